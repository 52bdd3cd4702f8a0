// The JSON the dashboard's API answers with: shared by the server (src/serve/) and the page
// (src/serve/web/), so both sides agree on one shape. Types only.

import type { Detection, DetectionState } from '../model/detection.ts';

/** One line of the list: the current revision of a detection, summarised. */
export interface DetectionSummary {
  readonly id: string;
  readonly revision: number;
  readonly state: DetectionState;
  /** When the store committed the current revision (ISO 8601). */
  readonly recordedAt: string;
  /** null: made on this host; else where it was received from. */
  readonly origin: string | null;
  /** When the threshold was crossed. */
  readonly time: string;
  readonly host: string;
  readonly recipe: { readonly id: string; readonly name: string };
  readonly importance: string;
  readonly environment: string;
  readonly scope: string;
  readonly process: { readonly pid: number; readonly comm: string; readonly exe: string | null };
  /** "container web-1 (app:1) podman 0123456789ab, pod ns/name", null on the host or unknown. */
  readonly container: string | null;
  readonly directoryCount: number;
  readonly accessCount: number;
  /** false: the sensor lost events or had a gap while the subject was live. */
  readonly complete: boolean;
}

export interface DetectionListResponse {
  readonly detections: readonly DetectionSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** One revision of a detection, without its full body. */
export interface RevisionSummary {
  readonly seq: number;
  readonly revision: number;
  readonly state: DetectionState;
  readonly recordedAt: string;
  readonly directoryCount: number;
  readonly accessCount: number;
  readonly fileCount: number;
}

export interface DetectionDetailResponse {
  readonly summary: DetectionSummary;
  /** The current revision's full tripline.detection/v1 object. */
  readonly detection: Detection;
  /** Oldest first. */
  readonly revisions: readonly RevisionSummary[];
}

/** The newest health sample of a host's sensor, and the detections it has. */
export interface HostHealth {
  readonly host: string;
  readonly detections: number;
  /** null when the host has sent no health sample (detections only). */
  readonly health: {
    readonly time: string;
    readonly source: string;
    readonly sensor: string;
    readonly lines: number;
    readonly lost: number;
    readonly late: number;
    readonly gaps: number;
    readonly pending: number;
    readonly linesPerSecond: number | null;
    /** Events lost in the last 24 hours, from the health samples (see lostOver in dashboard-api.ts). */
    readonly lostLastDay: number;
  } | null;
  /** ok: nothing lost; loss: events lost or gaps in the newest sample; unknown: no sample. */
  readonly status: 'ok' | 'loss' | 'unknown';
}

export interface HostsResponse {
  readonly hosts: readonly HostHealth[];
}

export interface StatsResponse {
  readonly total: number;
  readonly bucketMs: number;
  /** Non-empty buckets in time order. */
  readonly buckets: readonly { readonly start: string; readonly count: number }[];
  readonly byRecipe: Readonly<Record<string, number>>;
  readonly byImportance: Readonly<Record<string, number>>;
  readonly byHost: Readonly<Record<string, number>>;
  readonly byEnvironment: Readonly<Record<string, number>>;
  readonly first: string | null;
  readonly last: string | null;
}

/** The data of an `event: revision` on /api/events. */
export interface RevisionEvent {
  readonly seq: number;
  readonly summary: DetectionSummary;
}

/** Every error answer. */
export interface ErrorResponse {
  readonly error: string;
  /** The query parameter at fault, for a 400 about one. */
  readonly parameter?: string;
}
