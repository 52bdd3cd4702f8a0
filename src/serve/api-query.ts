// The query parameters of the dashboard's JSON API, checked: a parameter that is unknown, given
// twice, empty, too long or of the wrong form is refused with a message naming it (HTTP 400).

import { ENVIRONMENT_KINDS, isEnvironmentKind } from '../model/environment.ts';
import { IMPORTANCE_LEVELS, importanceRank, isImportance } from '../model/importance.ts';
import type { DetectionFilter, ListQuery, StatsQuery } from '../store/detection-store.ts';

/** A bad parameter: `parameter` is its name, the message says what is wrong and what is taken. */
export class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(readonly parameter: string, message: string) {
    super(`parameter ${parameter}: ${message}`);
  }
}

/** Longest text filter (a host name is at most 253 characters; a pod "namespace/name" 317). */
const MAX_TEXT_CHARS = 320;
/** Longest paging cursor taken (the store's are short). */
const MAX_CURSOR_CHARS = 512;
/** Most detections one list answer holds. */
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 200;

const UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A time as the API takes it: an ISO 8601 date-time with a zone ("2026-12-01T04:00:00Z"), a
 * date ("2026-12-01", midnight UTC), or a duration back from `now` ("30m", "24h", "7d").
 */
export function parseSince(text: string, now: number, parameter = 'since'): number {
  const relative = /^(\d{1,6})([smhdw])$/.exec(text);
  if (relative !== null) return now - Number(relative[1]) * (UNITS_MS[relative[2] ?? 's'] ?? 1000);
  if (/^\d{4}-\d{2}-\d{2}$/.test(text) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return t;
  }
  throw new QueryError(parameter, `"${shown(text)}" is not a time: use an ISO 8601 date-time with a zone (2026-12-01T04:00:00Z), a date (2026-12-01) or a duration back from now (30m, 24h, 7d)`);
}

/** A value quoted in a message: at most 64 characters, shown as JSON would (control characters escaped). */
function shown(text: string): string {
  const cut = text.length > 64 ? `${text.slice(0, 61)}...` : text;
  return JSON.stringify(cut).slice(1, -1);
}

/** Each parameter's single value; unknown, repeated and empty parameters are refused. */
function singleValues(params: URLSearchParams, known: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, value] of params) {
    if (!known.includes(name)) throw new QueryError(shown(name), `unknown; this endpoint takes ${known.join(', ')}`);
    if (values.has(name)) throw new QueryError(name, 'given more than once');
    if (value === '') throw new QueryError(name, 'empty (leave it out to not filter on it)');
    values.set(name, value);
  }
  return values;
}

function text(values: Map<string, string>, name: string): string | undefined {
  const v = values.get(name);
  if (v === undefined) return undefined;
  if (v.length > MAX_TEXT_CHARS) throw new QueryError(name, `longer than ${String(MAX_TEXT_CHARS)} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new QueryError(name, 'holds control characters');
  return v;
}

/** The filters both endpoints take; `importance` is that level or higher, `container` also matches a pod. */
const FILTERS = ['host', 'recipe', 'importance', 'environment', 'container', 'since'] as const;

function filters(values: Map<string, string>, now: number): DetectionFilter {
  const q: { -readonly [K in keyof DetectionFilter]: DetectionFilter[K] } = {};
  const host = text(values, 'host');
  if (host !== undefined) q.host = [host];
  const recipe = text(values, 'recipe');
  if (recipe !== undefined) q.recipe = [recipe];
  const container = text(values, 'container');
  if (container !== undefined) q.container = container;
  const importance = values.get('importance');
  if (importance !== undefined) {
    if (!isImportance(importance)) throw new QueryError('importance', `"${shown(importance)}" is not a level; use ${IMPORTANCE_LEVELS.join(', ')}`);
    q.importance = IMPORTANCE_LEVELS.filter((l) => importanceRank(l) >= importanceRank(importance));
  }
  const environment = values.get('environment');
  if (environment !== undefined) {
    if (!isEnvironmentKind(environment)) throw new QueryError('environment', `"${shown(environment)}" is not an environment; use ${ENVIRONMENT_KINDS.join(', ')}`);
    q.environment = [environment];
  }
  const since = values.get('since');
  if (since !== undefined) q.since = new Date(parseSince(since, now));
  return q;
}

/** The filters of /api/stats (the chart follows the list's filters). */
export function parseStatsQuery(params: URLSearchParams, now: number): StatsQuery {
  return filters(singleValues(params, FILTERS), now);
}

/** The filters, the limit and the page cursor of /api/detections. */
export function parseListQuery(params: URLSearchParams, now: number): ListQuery & { readonly limit: number } {
  const values = singleValues(params, [...FILTERS, 'limit', 'cursor']);
  const limitText = values.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^\d{1,7}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw new QueryError('limit', `"${shown(limitText)}" is not a whole number from 1 to ${String(MAX_LIMIT)}`);
    limit = Number(limitText);
  }
  const cursor = values.get('cursor');
  if (cursor !== undefined && (cursor.length > MAX_CURSOR_CHARS || !/^[\x21-\x7e]+$/.test(cursor))) throw new QueryError('cursor', 'not a cursor this server gave (use nextCursor of the previous page)');
  return { ...filters(values, now), limit, ...(cursor === undefined ? {} : { cursor }) };
}

/** Endpoints that take no parameter. */
export function parseNoQuery(params: URLSearchParams): void {
  singleValues(params, []);
}

/**
 * A detection id from a path segment, percent-decoded. The schema allows any text (ids from
 * other hosts arrive through `report` and the bus): at most 256 characters, no control
 * characters; the store looks it up as a value, never as SQL or a path.
 */
export function parseDetectionId(segment: string): string {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    throw new QueryError('id', 'not a valid percent-encoded path segment');
  }
  if (id === '') throw new QueryError('id', 'empty');
  if (id.length > 256) throw new QueryError('id', 'longer than 256 characters');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(id)) throw new QueryError('id', 'holds control characters');
  return id;
}
