// A small renderer of Helm templates for the chart's tests (helm is not installed on these
// machines): only what deploy/helm/tripline uses, `{{ }}` actions with `{{-`/`-}}` trimming,
// `.Values.*`, `.Chart.*`, `.Release.*`, string literals and the functions quote, default,
// toYaml and nindent. Anything else throws, so the chart cannot start using a construct this
// renderer would get wrong without a test failing.

import { stringify } from 'yaml';

export interface HelmContext {
  readonly Values: unknown;
  /** Chart.yaml as Helm exposes it: keys with a capital first letter (Name, AppVersion). */
  readonly Chart: Readonly<Record<string, unknown>>;
  readonly Release: { readonly Name: string; readonly Namespace: string };
}

/** Chart.yaml's keys the way templates name them (`appVersion` is `.Chart.AppVersion`). */
export function chartObject(chartYaml: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(chartYaml).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v]));
}

function lookup(context: HelmContext, path: string): unknown {
  const parts = path.slice(1).split('.');
  let value: unknown = context;
  for (const part of parts) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) throw new Error(`template names ${path}, which is not defined`);
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function empty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || value === false || value === 0
    || (Array.isArray(value) && value.length === 0)
    || (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`cannot print ${JSON.stringify(value)} in a template`);
}

function term(context: HelmContext, token: string): unknown {
  if (token.startsWith('.')) return lookup(context, token);
  if (/^"[^"\\]*"$/.test(token)) return token.slice(1, -1);
  if (/^\d+$/.test(token)) return Number(token);
  throw new Error(`unsupported term ${token}`);
}

/** Evaluates one pipeline: a term, then `| fn args...` stages, each given the previous value last. */
function evaluate(context: HelmContext, expression: string): unknown {
  const stages = expression.split('|').map((s) => s.trim().split(/\s+/));
  const [first, ...rest] = stages;
  if (first === undefined || first[0] === undefined) throw new Error(`unsupported action {{ ${expression} }}`);
  // `fn a b` first: the same as `b | fn a`.
  const head = first.length === 1 ? first[0] : first.at(-1) ?? '';
  if (first.length > 1) rest.unshift(first.slice(0, -1));
  let value = term(context, head);
  for (const [fn, ...args] of rest) {
    const values = args.map((a) => term(context, a));
    if (fn === 'quote' && values.length === 0) value = JSON.stringify(text(value));
    else if (fn === 'default' && values.length === 1) value = empty(value) ? values[0] : value;
    else if (fn === 'toYaml' && values.length === 0) value = stringify(value).replace(/\n$/, '');
    else if (fn === 'nindent' && values.length === 1 && typeof values[0] === 'number') {
      const pad = ' '.repeat(values[0]);
      value = `\n${text(value).split('\n').map((l) => pad + l).join('\n')}`;
    } else throw new Error(`unsupported function in {{ ${expression} }}`);
  }
  return value;
}

/** Renders a template of the chart; throws on any construct it does not know. */
export function renderHelmTemplate(template: string, context: HelmContext): string {
  let out = '';
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) return out + rest;
    const close = rest.indexOf('}}', open);
    if (close < 0) throw new Error('unclosed {{');
    let before = rest.slice(0, open);
    let inner = rest.slice(open + 2, close);
    let after = rest.slice(close + 2);
    if (inner.startsWith('-')) { before = before.replace(/\s+$/, ''); inner = inner.slice(1); }
    if (inner.endsWith('-')) { after = after.replace(/^\s+/, ''); inner = inner.slice(0, -1); }
    if (inner.trim().startsWith('/*') || /^\s*(if|else|end|range|with|define|include|template)\b/.test(inner)) throw new Error(`unsupported action {{${inner}}}`);
    out += before + text(evaluate(context, inner.trim()));
    rest = after;
  }
}
