// The answers of the dashboard's JSON API, made from the detection store: the list, one
// detection with its revisions, health and loss per host, and the counts behind the chart.
// Pure functions of the store and the parsed query: the server does the HTTP.

import { describeContainer } from '../model/detection.ts';
import type { DetectionStore, ListQuery, SensorHealthSample, StatsQuery, StoredRevision } from '../store/detection-store.ts';
import type { DetectionDetailResponse, DetectionListResponse, DetectionSummary, HostHealth, HostsResponse, StatsResponse } from './dashboard-api-types.ts';

/** Most hosts the health panel lists (the busiest first). */
export const MAX_HOSTS = 500;
/** The window the per-host loss is summed over. */
const DAY_MS = 86_400_000;
/** Most health samples read for one host's day (one a minute is 1,440). */
const SAMPLES_PER_HOST = 5000;

export function summarize(r: StoredRevision): DetectionSummary {
  const d = r.detection;
  const p = d.subject.process;
  return {
    id: d.id,
    revision: r.revision,
    state: r.state,
    recordedAt: r.recordedAt,
    origin: r.origin ?? null,
    time: d.time,
    host: d.host.hostname,
    recipe: { id: d.recipe.id, name: d.recipe.name },
    importance: d.recipe.importance,
    environment: d.environment.kind,
    scope: d.subject.scope,
    process: { pid: p.pid, comm: p.comm, exe: p.exe },
    container: describeContainer(p.container) ?? (d.host.container === null ? null : `container ${d.host.container.runtime} ${d.host.container.id.slice(0, 12)}`),
    directoryCount: d.evidence.directoryCount,
    accessCount: d.evidence.accessCount,
    complete: d.sensor.complete,
  };
}

export function listDetections(store: DetectionStore, query: ListQuery): DetectionListResponse {
  const page = store.list(query);
  return { detections: page.items.map(summarize), nextCursor: page.nextCursor ?? null };
}

/** The detection and its revisions, undefined when the store does not know the id. */
export function detectionDetail(store: DetectionStore, id: string): DetectionDetailResponse | undefined {
  const current = store.get(id);
  if (current === undefined) return undefined;
  return {
    summary: summarize(current),
    detection: current.detection,
    revisions: store.revisions(id).map((r) => ({
      seq: r.seq,
      revision: r.revision,
      state: r.state,
      recordedAt: r.recordedAt,
      directoryCount: r.detection.evidence.directoryCount,
      accessCount: r.detection.evidence.accessCount,
      fileCount: r.detection.evidence.files.length + r.detection.evidence.filesOmitted,
    })),
  };
}

export function detectionStats(store: DetectionStore, query: StatsQuery): StatsResponse {
  const s = store.stats(query);
  return {
    total: s.total,
    bucketMs: s.bucketMs,
    buckets: s.buckets,
    byRecipe: s.byRecipe,
    byImportance: s.byImportance,
    byHost: s.byHost,
    byEnvironment: s.byEnvironment,
    first: s.first ?? null,
    last: s.last ?? null,
  };
}

/**
 * Events lost within `samples` (newest first, as the store lists them). A `run` sample is the
 * total of one run: added whole. `watch` samples carry totals since that sensor started: the
 * increase from one to the next is added, and a total that goes down is a restart, counted
 * from zero. `before` is the newest watch sample before the window, the baseline of the first
 * one in it (none: the sensor started inside the window, its whole total counts).
 */
export function lostOver(samples: readonly SensorHealthSample[], before: SensorHealthSample | undefined): number {
  let lost = 0;
  let previousWatch = before;
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i];
    if (s === undefined) continue;
    if (s.source === 'run') {
      lost += s.lost;
      continue;
    }
    lost += previousWatch !== undefined && s.lost >= previousWatch.lost ? s.lost - previousWatch.lost : s.lost;
    previousWatch = s;
  }
  return lost;
}

/** Every host with detections or health samples, its newest sample and a verdict. */
export function hostHealth(store: DetectionStore, now: number): HostsResponse {
  const byHost = store.stats({}).byHost;
  const since = new Date(now - DAY_MS);
  const recent = store.listHealth({ since, limit: 100_000 });
  const names = new Set<string>(Object.keys(byHost));
  for (const s of recent) names.add(s.host);
  // Hosts with no sample in the last day still show their newest one.
  const ranked = [...names].sort((a, b) => (byHost[b] ?? 0) - (byHost[a] ?? 0) || a.localeCompare(b)).slice(0, MAX_HOSTS);
  const hosts: HostHealth[] = ranked.map((host) => {
    const day = recent.filter((s) => s.host === host).slice(0, SAMPLES_PER_HOST);
    const newest = day[0] ?? store.listHealth({ host: [host], limit: 1 })[0];
    if (newest === undefined) return { host, detections: byHost[host] ?? 0, health: null, status: 'unknown' };
    return {
      host,
      detections: byHost[host] ?? 0,
      health: {
        time: newest.time,
        source: newest.source,
        sensor: newest.sensor,
        lines: newest.lines,
        lost: newest.lost,
        late: newest.late,
        gaps: newest.gaps,
        pending: newest.pending,
        linesPerSecond: newest.linesPerSecond ?? null,
        lostLastDay: lostOver(day, store.listHealth({ host: [host], until: since, limit: 100 }).find((b) => b.source === 'watch')),
      },
      status: newest.lost > 0 || newest.gaps > 0 ? 'loss' : 'ok',
    };
  });
  return { hosts };
}
