// The list of detections: one row per detection (its current revision), newest first, each
// opening the detail view. A row that a live update just changed is marked for a moment.

import type { DetectionSummary } from '../dashboard-api-types.ts';
import { byId, h, link, replaceChildren } from './dom-builder.ts';
import { formatCount, formatTime, visible } from './display-text.ts';

export function detectionHref(id: string): string {
  return `#/detection/${encodeURIComponent(id)}`;
}

export function importanceBadge(level: string): HTMLSpanElement {
  const known = ['low', 'medium', 'high', 'critical'].includes(level) ? level : 'unknown';
  return h('span', { className: `badge importance-${known}` }, visible(level));
}

export function stateBadge(state: string, revision: number): HTMLSpanElement {
  const known = ['open', 'updated', 'closed'].includes(state) ? state : 'unknown';
  return h('span', { className: `badge state-${known}`, attrs: { title: `revision ${String(revision)}` } }, `${visible(state)} · r${String(revision)}`);
}

export class DetectionList {
  private readonly body = byId('detections-body', HTMLTableSectionElement);
  private readonly empty = byId('detections-empty', HTMLParagraphElement);
  private readonly count = byId('detections-count', HTMLSpanElement);

  private readonly more = byId('detections-more', HTMLButtonElement);
  private shown = 0;
  private older: (() => void) | undefined;

  constructor() {
    this.more.addEventListener('click', () => { this.older?.(); });
  }

  /** The first page; `older` (when there are more) loads the next one. */
  render(detections: readonly DetectionSummary[], older: (() => void) | undefined, fresh: ReadonlySet<string>): void {
    this.shown = 0;
    replaceChildren(this.body);
    this.append(detections, older, fresh);
  }

  /** Appends a page of older detections. */
  append(detections: readonly DetectionSummary[], older: (() => void) | undefined, fresh: ReadonlySet<string>): void {
    this.shown += detections.length;
    this.older = older;
    this.more.hidden = older === undefined;
    replaceChildren(this.count, `${formatCount(this.shown)}${older === undefined ? '' : '+'} shown`);
    this.empty.hidden = this.shown > 0;
    this.body.append(...detections.map((d) => this.row(d, fresh.has(d.id))));
  }

  private row(d: DetectionSummary, fresh: boolean): HTMLTableRowElement {
    const name = d.process.comm === '' ? (d.process.exe ?? '?') : d.process.comm;
    return h('tr', { className: fresh ? 'fresh' : '', attrs: { 'data-id': d.id } },
      h('td', { className: 'nowrap' }, h('time', { attrs: { datetime: d.time } }, formatTime(d.time))),
      h('td', {}, importanceBadge(d.importance)),
      h('td', {}, link(detectionHref(d.id), { className: 'process-link' }, visible(name), h('span', { className: 'muted' }, ` pid ${String(d.process.pid)}`))),
      h('td', {}, h('span', { attrs: { title: visible(d.recipe.name) } }, visible(d.recipe.id))),
      h('td', {}, visible(d.host)),
      h('td', {}, d.container === null ? h('span', { className: 'muted' }, 'host') : visible(d.container)),
      h('td', {}, visible(d.environment)),
      h('td', { className: 'number' }, formatCount(d.directoryCount)),
      h('td', {}, stateBadge(d.state, d.revision), d.complete ? null : h('span', { className: 'badge incomplete', attrs: { title: 'the sensor lost events or was down while this process ran' } }, 'incomplete')),
    );
  }
}
