// The dashboard page: wires the filters, the chart, the list, the host table, the detail view
// (#/detection/ID) and the live stream together. Plain DOM, no framework; every value from the
// API is put in the page as text (dom-builder.ts).

import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { DetectionDetailResponse, DetectionListResponse, HostsResponse, RevisionEvent, StatsResponse } from '../dashboard-api-types.ts';
import { ApiError, getJson } from './api-client.ts';
import { DetectionChart } from './detection-chart.ts';
import { renderDetail } from './detection-detail.ts';
import { DetectionList } from './detection-list.ts';
import { visible } from './display-text.ts';
import { byId, h, replaceChildren } from './dom-builder.ts';
import { FilterBar } from './filter-bar.ts';
import { HostTable } from './host-table.ts';
import { followRevisions } from './live-updates.ts';

const UNITS_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** How long a row changed by a live update stays marked. */
const FRESH_MS = 8000;
/** Detections per page of the list. */
const PAGE_SIZE = 100;
/** Live updates arriving together cause one reload. */
const RELOAD_DELAY_MS = 250;
/**
 * Live reloads are at least this far apart: a watch streaming a revision a second to 32 open
 * pages must not make each of them reload the list, the chart and the hosts every second.
 */
const RELOAD_INTERVAL_MS = 2000;

const overview = byId('overview', HTMLElement);
const detailView = byId('detail', HTMLElement);
const detailBody = byId('detail-body', HTMLDivElement);
const liveStatus = byId('live-status', HTMLParagraphElement);
const problem = byId('problem', HTMLParagraphElement);

const chart = new DetectionChart(byId('chart', HTMLDivElement), byId('chart-summary', HTMLParagraphElement));
const list = new DetectionList();
const hosts = new HostTable();
const filters = new FilterBar(() => { void reload(); });
const fresh = new Map<string, number>();
let reloadTimer: number | undefined;
let lastLiveReload = 0;
let loading: Promise<void> | undefined;
let again = false;

function showProblem(error: unknown): void {
  const message = error instanceof ApiError ? `The server refused: ${error.message}` : `Cannot reach the server: ${error instanceof Error ? error.message : String(error)}`;
  replaceChildren(problem, message);
  problem.hidden = false;
}

function sinceMs(since: string | undefined): number | undefined {
  const m = since === undefined ? null : /^(\d+)([mhd])$/.exec(since);
  return m === null ? undefined : Date.now() - Number(m[1]) * (UNITS_MS[m[2] ?? 'h'] ?? 0);
}

/** The list, the chart and the hosts for the filters in force. */
async function loadOverview(): Promise<void> {
  const f = filters.values();
  const params = new URLSearchParams(f);
  const [page, stats, all, health] = await Promise.all([
    getJson<DetectionListResponse>('/api/detections', listParams(params)),
    getJson<StatsResponse>('/api/stats', params),
    getJson<StatsResponse>('/api/stats'),
    getJson<HostsResponse>('/api/hosts'),
  ]);
  const now = Date.now();
  for (const [id, until] of fresh) if (until < now) fresh.delete(id);
  filters.setChoices(all);
  list.render(page.detections, olderPages(params, page.nextCursor), new Set(fresh.keys()));
  chart.render(stats, sinceMs(f.since), now);
  hosts.render(health.hosts);
  problem.hidden = true;
}

/** The list's parameters: the filters and the page size. */
function listParams(filters: URLSearchParams): URLSearchParams {
  const p = new URLSearchParams(filters);
  p.set('limit', String(PAGE_SIZE));
  return p;
}

/** Loads the page after `cursor` (the filters unchanged) and appends it; undefined on the last page. */
function olderPages(params: URLSearchParams, cursor: string | null): (() => void) | undefined {
  if (cursor === null) return undefined;
  return () => {
    const next = listParams(params);
    next.set('cursor', cursor);
    getJson<DetectionListResponse>('/api/detections', next)
      .then((page) => { list.append(page.detections, olderPages(params, page.nextCursor), new Set()); })
      .catch(showProblem);
  };
}

function openId(): string | undefined {
  const m = /^#\/detection\/(.+)$/.exec(location.hash);
  if (m?.[1] === undefined) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

async function loadDetail(id: string, focus: boolean): Promise<void> {
  const data = await getJson<DetectionDetailResponse>(`/api/detections/${encodeURIComponent(id)}`);
  if (openId() !== id) return;
  replaceChildren(detailBody, ...renderDetail(data));
  document.title = `${data.summary.process.comm} · ${data.summary.recipe.id} · Tripline`;
  if (focus) document.getElementById('detail-title')?.focus();
}

/** Whether a reload was asked for while one ran (and clears it). */
function takeAgain(): boolean {
  const asked = again;
  again = false;
  return asked;
}

/** One reload at a time; a reload asked for meanwhile runs once the current one ends. */
async function reload(): Promise<void> {
  if (loading !== undefined) {
    again = true;
    return loading;
  }
  loading = (async () => {
    for (let round = true; round; round = takeAgain()) {
      try {
        const id = openId();
        await Promise.all([loadOverview(), id === undefined ? Promise.resolve() : loadDetail(id, false)]);
      } catch (error) {
        showProblem(error);
      }
    }
  })();
  try {
    await loading;
  } finally {
    loading = undefined;
  }
}

function route(): void {
  const id = openId();
  overview.hidden = id !== undefined;
  detailView.hidden = id === undefined;
  if (id === undefined) {
    document.title = 'Tripline detections';
    replaceChildren(detailBody);
    return;
  }
  replaceChildren(detailBody, h('p', { className: 'muted' }, 'Loading…'));
  loadDetail(id, true).catch((error: unknown) => {
    replaceChildren(detailBody, h('p', { className: 'problem' }, error instanceof ApiError && error.status === 404 ? 'No detection has this id in the store.' : `Cannot load the detection: ${error instanceof Error ? error.message : String(error)}`));
  });
}

function liveRevision(event: RevisionEvent): void {
  fresh.set(event.summary.id, Date.now() + FRESH_MS);
  replaceChildren(liveStatus, `Live · revision ${String(event.summary.revision)} of a detection on ${visible(event.summary.host)} just arrived`);
  // One reload for a burst, and none sooner than RELOAD_INTERVAL_MS after the previous one.
  if (reloadTimer !== undefined) return;
  const wait = Math.max(RELOAD_DELAY_MS, lastLiveReload + RELOAD_INTERVAL_MS - Date.now());
  reloadTimer = window.setTimeout(() => {
    reloadTimer = undefined;
    lastLiveReload = Date.now();
    void reload();
  }, wait);
}

window.addEventListener('hashchange', route);
route();
void reload();
followRevisions({
  connected: () => {
    replaceChildren(liveStatus, 'Live: new detections appear as they are recorded');
    liveStatus.dataset.state = 'live';
    void reload();
  },
  disconnected: () => {
    replaceChildren(liveStatus, 'Not live: reconnecting…');
    liveStatus.dataset.state = 'offline';
  },
  revision: liveRevision,
});
