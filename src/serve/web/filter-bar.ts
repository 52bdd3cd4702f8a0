// The filters above the list: host, recipe, importance, environment, container or pod, and a
// time range. The host and recipe choices come from the store's counts; the choice is kept in
// the page's URL (?host=...), so a reload or a shared link shows the same view.

import type { StatsResponse } from '../dashboard-api-types.ts';
import { byId, h, replaceChildren } from './dom-builder.ts';
import { formatCount, visible } from './display-text.ts';

/** The names of the filters, as the API takes them. */
export const FILTER_NAMES = ['host', 'recipe', 'importance', 'environment', 'container', 'since'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];
export type Filters = Partial<Record<FilterName, string>>;

const IMPORTANCE = ['low', 'medium', 'high', 'critical'];
const ENVIRONMENTS = ['ci', 'staging', 'production', 'development', 'unknown'];
const RANGES: readonly (readonly [string, string])[] = [['', 'all time'], ['1h', 'last hour'], ['24h', 'last 24 hours'], ['7d', 'last 7 days'], ['30d', 'last 30 days']];

export class FilterBar {
  private readonly form = byId('filters', HTMLFormElement);
  private readonly host = byId('filter-host', HTMLSelectElement);
  private readonly recipe = byId('filter-recipe', HTMLSelectElement);
  private readonly importance = byId('filter-importance', HTMLSelectElement);
  private readonly environment = byId('filter-environment', HTMLSelectElement);
  private readonly container = byId('filter-container', HTMLInputElement);
  private readonly since = byId('filter-since', HTMLSelectElement);
  private readonly reset = byId('filter-reset', HTMLButtonElement);

  constructor(private readonly changed: () => void) {
    fill(this.importance, [['', 'any'], ...IMPORTANCE.map((l): [string, string] => [l, `${l} or higher`])]);
    fill(this.environment, [['', 'any'], ...ENVIRONMENTS.map((e): [string, string] => [e, e])]);
    fill(this.since, RANGES);
    fill(this.host, [['', 'every host']]);
    fill(this.recipe, [['', 'every recipe']]);
    this.load(new URLSearchParams(location.search));
    for (const control of [this.host, this.recipe, this.importance, this.environment, this.since, this.container]) {
      control.addEventListener('change', () => { this.apply(); });
    }
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.apply();
    });
    this.reset.addEventListener('click', () => {
      for (const c of [this.host, this.recipe, this.importance, this.environment, this.since]) c.value = '';
      this.container.value = '';
      this.apply();
    });
  }

  /** The filters in force, without empty ones. */
  values(): Filters {
    const f: Filters = {};
    const pairs: [FilterName, string][] = [
      ['host', this.host.value], ['recipe', this.recipe.value], ['importance', this.importance.value],
      ['environment', this.environment.value], ['container', this.container.value.trim()], ['since', this.since.value],
    ];
    for (const [k, v] of pairs) if (v !== '') f[k] = v;
    return f;
  }

  /** The host and recipe choices from the unfiltered counts (the current choice is kept even with no count). */
  setChoices(stats: StatsResponse): void {
    refill(this.host, 'every host', stats.byHost);
    refill(this.recipe, 'every recipe', stats.byRecipe);
  }

  private load(params: URLSearchParams): void {
    const get = (k: string): string => params.get(k) ?? '';
    ensureOption(this.host, get('host'));
    ensureOption(this.recipe, get('recipe'));
    this.host.value = get('host');
    this.recipe.value = get('recipe');
    this.importance.value = IMPORTANCE.includes(get('importance')) ? get('importance') : '';
    this.environment.value = ENVIRONMENTS.includes(get('environment')) ? get('environment') : '';
    this.since.value = RANGES.some(([v]) => v === get('since')) ? get('since') : '';
    this.container.value = get('container');
  }

  private apply(): void {
    const params = new URLSearchParams(this.values());
    const query = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${query === '' ? '' : `?${query}`}${location.hash}`);
    this.changed();
  }
}

function fill(select: HTMLSelectElement, options: readonly (readonly [string, string])[]): void {
  replaceChildren(select, ...options.map(([value, label]) => {
    const o = h('option', {}, label);
    o.value = value;
    return o;
  }));
}

function ensureOption(select: HTMLSelectElement, value: string): void {
  if (value === '' || [...select.options].some((o) => o.value === value)) return;
  const o = h('option', {}, visible(value));
  o.value = value;
  select.appendChild(o);
}

function refill(select: HTMLSelectElement, anyLabel: string, counts: Readonly<Record<string, number>>): void {
  const current = select.value;
  const names = Object.keys(counts).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a.localeCompare(b));
  fill(select, [['', anyLabel], ...names.map((n): [string, string] => [n, `${visible(n)} (${formatCount(counts[n] ?? 0)})`])]);
  ensureOption(select, current);
  select.value = current;
}
