// The detection store: every revision of every detection Tripline made here (or received from
// other hosts), kept on disk for `tripline detections`, `tripline serve` and the outbox of a
// remote sink. This file is the interface; `sqlite-detection-store.ts` is the implementation
// (one SQLite file, WAL, shared by several processes at once). Reference: docs/store.md.

import type { Detection } from '../model/detection.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import type { Importance } from '../model/importance.ts';

/** A revision's place in the detection's life (issue 14): opened, grown, final. */
export type DetectionState = 'open' | 'updated' | 'closed';
export const DETECTION_STATES: readonly DetectionState[] = ['open', 'updated', 'closed'];

/** One revision to record. */
export interface DetectionRevisionInput {
  readonly detection: Detection;
  /** 1 for the opened detection, then increasing; (detection.id, revision) is recorded once. */
  readonly revision: number;
  readonly state: DetectionState;
  /**
   * Where it came from: undefined for a detection this host made; the sender's name (a NATS
   * subject, a host) for one received from elsewhere, which is then never put in an outbox.
   */
  readonly origin?: string;
}

/** What `record` did. */
export type RecordOutcome =
  /** Committed (durable against a crash of the process when `record` returns); `seq` is its place in the change stream. */
  | { readonly kind: 'recorded'; readonly seq: number; readonly current: boolean }
  /** (id, revision) was already in the store: nothing changed (a re-sent or replayed revision). */
  | { readonly kind: 'duplicate'; readonly seq: number }
  /**
   * The store holds this id for another host: nothing recorded. Ids are unique per session, so
   * only a sender reusing another host's id (to overwrite its detection with a benign-looking
   * revision) gets here; `storedHost` is whose it is, `seq` its current revision's.
   */
  | { readonly kind: 'conflict'; readonly seq: number; readonly storedHost: string };

/** A revision as stored. */
export interface StoredRevision {
  /** Store-wide, strictly increasing in commit order, never reused (not even after a prune). */
  readonly seq: number;
  readonly id: string;
  readonly revision: number;
  readonly state: DetectionState;
  /** ISO 8601 time the store committed it (the writer's clock). */
  readonly recordedAt: string;
  /** undefined: made on this host; else where it was received from. */
  readonly origin: string | undefined;
  /** The detection as that revision had it (the full tripline.detection/v1 object). */
  readonly detection: Detection;
}

/**
 * Filters of `list` and `stats`; every field is optional and they combine with AND; a list
 * inside one field is OR. Times compare with the detection's `time` (when it fired).
 */
export interface DetectionFilter {
  /** Inclusive lower bound. */
  readonly since?: Date;
  /** Exclusive upper bound. */
  readonly until?: Date;
  readonly recipe?: readonly string[];
  readonly importance?: readonly Importance[];
  /** host.hostname, exact. */
  readonly host?: readonly string[];
  /**
   * The subject's container (or the host container tripline ran in): a full id, an id prefix
   * of at least 12 characters, a container name, a pod name or "namespace/pod".
   */
  readonly container?: string;
  readonly environment?: readonly EnvironmentKind[];
  /** The current revision's state. */
  readonly state?: readonly DetectionState[];
}

export interface ListQuery extends DetectionFilter {
  /** At most this many (default 100, at most 10,000). */
  readonly limit?: number;
  /** `nextCursor` of the previous page: the page after it, in the same order. */
  readonly cursor?: string;
}

/** One page of `list`: the current revision of each detection, newest (by detection time) first. */
export interface DetectionPage {
  readonly items: readonly StoredRevision[];
  /** Opaque; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

export interface StatsQuery extends DetectionFilter {
  /** Width of the time buckets for a chart; default: chosen from the range so that there are at most 200. */
  readonly bucketMs?: number;
}

/** Counts of detections (not revisions) matching a filter. */
export interface DetectionStats {
  readonly total: number;
  readonly byRecipe: Readonly<Record<string, number>>;
  readonly byImportance: Readonly<Record<string, number>>;
  readonly byHost: Readonly<Record<string, number>>;
  readonly byEnvironment: Readonly<Record<string, number>>;
  readonly byState: Readonly<Record<string, number>>;
  readonly bucketMs: number;
  /** Non-empty buckets in time order; `start` is ISO 8601, aligned to multiples of bucketMs since the epoch. */
  readonly buckets: readonly { readonly start: string; readonly count: number }[];
  /** Oldest and newest detection time matching, undefined when none. */
  readonly first: string | undefined;
  readonly last: string | undefined;
}

/** One health sample of a host's sensor (watch: periodically and at stop; run: at its end). */
export interface SensorHealthSample {
  readonly host: string;
  /** ISO 8601. */
  readonly time: string;
  /** Which command sampled it. */
  readonly source: 'run' | 'watch';
  /** The sensor's name and version ("strace 6.1", "tripline-sensor ..."). */
  readonly sensor: string;
  /** Totals since the sensor started. */
  readonly lines: number;
  readonly lost: number;
  readonly late: number;
  readonly orphans: number;
  readonly unparsed: number;
  /** Times nothing was watched (the sensor down), since start. */
  readonly gaps: number;
  readonly pending: number;
  readonly maxLatenessMs: number;
  readonly holdMs: number;
  /** Lines per second since the previous sample (undefined for the first). */
  readonly linesPerSecond: number | undefined;
  /** Detections made since start. */
  readonly detections: number;
}

export interface HealthQuery {
  readonly host?: readonly string[];
  readonly since?: Date;
  readonly until?: Date;
  /** Newest first; default 1,000, at most 100,000. */
  readonly limit?: number;
}

export interface PruneOptions {
  /** Removes every detection (all its revisions) whose last revision was recorded before this time, and health samples older than it. */
  readonly olderThan?: Date;
  /** Then removes the oldest detections until the file (with its WAL) is at most this size. */
  readonly maxBytes?: number;
}

export interface PruneResult {
  readonly detections: number;
  readonly revisions: number;
  readonly healthSamples: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/**
 * What a remote sink (the NATS output) has not acknowledged yet: the revisions made on this
 * host (origin undefined) after the sink was registered, in seq order.
 */
export interface SinkOutbox {
  readonly sink: string;
  /** The oldest unacknowledged revisions, at most `limit`. */
  pending(limit: number): readonly StoredRevision[];
  /** Marks these revisions as acknowledged by the sink (idempotent). */
  acknowledge(seqs: readonly number[]): void;
  /** How many wait. */
  count(): number;
}

export interface DetectionStore {
  /** The database file's real path. */
  readonly path: string;
  /** Records one revision in its own transaction; returns once committed. Idempotent on (id, revision). */
  record(input: DetectionRevisionInput): RecordOutcome;
  /** Records several revisions in one transaction (one fsync: a collector's batch); all or none. */
  recordBatch(inputs: readonly DetectionRevisionInput[]): RecordOutcome[];
  /** The current (highest) revision of each detection matching, newest first. */
  list(query?: ListQuery): DetectionPage;
  /** The current revision of a detection, undefined when unknown. */
  get(id: string): StoredRevision | undefined;
  /** Every revision of a detection, oldest first. */
  revisions(id: string): readonly StoredRevision[];
  /** Revisions with seq > `afterSeq`, oldest first, at most `limit`: poll it to follow writers in other processes. */
  changesSince(afterSeq: number, limit: number): readonly StoredRevision[];
  /** The highest seq committed (0 for an empty store). */
  lastSeq(): number;
  stats(query?: StatsQuery): DetectionStats;
  recordHealth(sample: SensorHealthSample): void;
  listHealth(query?: HealthQuery): readonly SensorHealthSample[];
  prune(options: PruneOptions): PruneResult;
  /** The outbox of a named sink; registering starts it at the current lastSeq (older revisions are not sent). */
  outbox(sink: string): SinkOutbox;
  /** Size of the database file and its WAL, in bytes. */
  sizeBytes(): number;
  close(): void;
}

export interface OpenStoreOptions {
  /** The database file (default: defaultStorePath in sqlite-detection-store.ts). */
  readonly path: string;
  /** Create the file and its missing directories (0700) when absent; otherwise an absent store is an error. */
  readonly create: boolean;
  /** Milliseconds a write waits for another process's write to end (SQLite busy_timeout); default 5,000. */
  readonly busyTimeoutMs?: number;
}

/** Why the store cannot be used; the message names the file and the reason. */
export class DetectionStoreError extends Error {
  override readonly name = 'DetectionStoreError';

  constructor(readonly path: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
