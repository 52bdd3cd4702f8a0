// The store as `run` and `watch` use it: opened (and pruned to its retention and size cap) at
// the start, an output for the detections, health samples, closed at the end. A store that
// cannot be opened or written is warned about, once, and never costs a detection its other
// outputs: the session goes on without it.

import { visible } from '../model/visible.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import type { PruneResult, SensorHealthSample } from './detection-store.ts';
import { openDetectionStore, type SqliteDetectionStore } from './sqlite-detection-store.ts';
import { defaultStorePath } from './store-location.ts';
import { StoreOutput } from './store-output.ts';

/** How long run and watch wait for another process's write lock before leaving the revision to the output queue's retries. */
export const LIVE_BUSY_TIMEOUT_MS = 100;

export interface SessionStoreSettings {
  /** The file; undefined: the default for this user; null: no store. */
  readonly path: string | null | undefined;
  /** Where the path came from ("--store", "TRIPLINE_STORE", "tripline.yaml:3:3", "default"), for messages. */
  readonly source: string;
  readonly maxBytes: number | undefined;
  readonly retentionMs: number | undefined;
}

/** How often `watch` applies the retention and the size cap. */
export const MAINTENANCE_INTERVAL_MS = 3_600_000;

export class SessionStore {
  readonly output: DetectionOutput;
  private healthWarned = false;
  private closed = false;

  private constructor(private readonly store: SqliteDetectionStore, private readonly settings: SessionStoreSettings, private readonly warn: (message: string) => void) {
    const output = new StoreOutput(store);
    // The session closes the store itself, after the last health sample.
    this.output = { name: output.name, opened: (d) => { output.opened(d); }, updated: (d) => { output.updated(d); }, closed: (d) => { output.closed(d); } };
  }

  /** undefined: no store configured, or it could not be opened (said through `warn`). */
  static open(settings: SessionStoreSettings, env: NodeJS.ProcessEnv, warn: (message: string) => void): SessionStore | undefined {
    if (settings.path === null) return undefined;
    let path: string;
    try {
      path = settings.path ?? defaultStorePath(env);
    } catch (error) {
      warn(`detection store: no default location (${(error as Error).message}); detections are not stored (give --store PATH, or --no-store)`);
      return undefined;
    }
    let store: SqliteDetectionStore;
    try {
      // A short wait for another writer's lock: the store is written on the event path, before
      // the other outputs, and a long transaction elsewhere (a prune of a big store) must not
      // stall the sensor. A write that finds the store locked fails; the output queue keeps it
      // and retries (1, 2, 5... s) while the other outputs go on.
      store = openDetectionStore({ path, create: true, busyTimeoutMs: LIVE_BUSY_TIMEOUT_MS });
    } catch (error) {
      const from = settings.source === 'default' ? 'the default location; --store PATH chooses another, --no-store none' : `from ${settings.source}`;
      warn(`${(error as Error).message}; detections are not stored (${from})`);
      return undefined;
    }
    const opened = new SessionStore(store, settings, warn);
    opened.maintain();
    return opened;
  }

  get path(): string {
    return this.store.path;
  }

  /** Applies the retention and the size cap; a failure is warned about and the store kept. */
  maintain(): PruneResult | undefined {
    const { retentionMs, maxBytes } = this.settings;
    if (this.closed || (retentionMs === undefined && maxBytes === undefined)) return undefined;
    try {
      return this.store.prune({
        ...(retentionMs === undefined ? {} : { olderThan: new Date(Date.now() - retentionMs) }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
      });
    } catch (error) {
      this.warn(`detection store ${visible(this.store.path)}: pruning failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Stores a health sample; the first failure is warned about, later ones are not (the detections' own failures are the output queue's). */
  recordHealth(sample: SensorHealthSample): void {
    if (this.closed) return;
    try {
      this.store.recordHealth(sample);
    } catch (error) {
      if (!this.healthWarned) this.warn(`detection store ${visible(this.store.path)}: a sensor health sample was not stored: ${(error as Error).message}`);
      this.healthWarned = true;
    }
  }

  close(): void {
    this.closed = true;
    try {
      this.store.close();
    } catch (error) {
      this.warn(`detection store ${visible(this.store.path)}: closing failed: ${(error as Error).message}`);
    }
  }
}
