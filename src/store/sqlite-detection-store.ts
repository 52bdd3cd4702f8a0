// The detection store in one SQLite file (better-sqlite3): WAL, so readers (`tripline
// detections`, `tripline serve`) never block the writers (`run`, `watch`) and several processes
// share the file; the schema is migrated on open, keyed on PRAGMA user_version.
//
// Crash safety. `record` returns only after its transaction committed. A commit in WAL mode has
// written the revision's frames to the -wal file with write(2) before it returns, so they are in
// the kernel's page cache: a `kill -9` of Tripline right after (or during the next write) loses
// nothing already recorded; the next opener replays the WAL (a transaction cut short by the kill
// has no commit frame and is ignored, as if never begun). Power loss or a kernel crash is another
// matter: with synchronous=NORMAL the WAL is fsync'ed only at checkpoints, and the last
// transactions before the loss may vanish (the file stays consistent). Detections are rare (a
// few per minute on a noisy host, revisions throttled to one per second each), so this store
// pays one fsync per commit (synchronous=FULL): what `record` returned is on disk, power loss
// included. Measured in docs/store.md; a bulk writer (a fleet collector) uses recordBatch, one
// transaction and one fsync per batch.

import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Detection } from '../model/detection.ts';
import { isEnvironmentKind } from '../model/environment.ts';
import { isImportance } from '../model/importance.ts';
import { visible } from '../model/visible.ts';
import {
  DETECTION_STATES, DetectionStoreError,
  type DetectionFilter, type DetectionPage, type DetectionRevisionInput, type DetectionState, type DetectionStats, type DetectionStore,
  type HealthQuery, type ListQuery, type OpenStoreOptions, type PruneOptions, type PruneResult, type RecordOutcome,
  type SensorHealthSample, type SinkOutbox, type StatsQuery, type StoredRevision,
} from './detection-store.ts';
import { checkStoreFile } from './store-location.ts';

/** PRAGMA application_id of a Tripline store ("TRPL"): a SQLite file of another program is refused, not migrated. */
export const STORE_APPLICATION_ID = 0x5452504c;

/**
 * The schema, one migration per version: user_version N means migrations[0..N) are applied.
 * A migration is never edited once released; a change is a new one at the end.
 */
export const STORE_MIGRATIONS: readonly string[] = [
  // 1: revisions (every one kept: the full detection JSON, raw DEFLATE) and the current row of
  // each detection with the columns the filters use.
  `CREATE TABLE revisions (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL,
     revision INTEGER NOT NULL,
     state TEXT NOT NULL,
     recorded_ms INTEGER NOT NULL,
     origin TEXT,
     body BLOB NOT NULL,
     UNIQUE (id, revision)
   );
   CREATE TABLE detections (
     id TEXT PRIMARY KEY,
     seq INTEGER NOT NULL,
     revision INTEGER NOT NULL,
     state TEXT NOT NULL,
     time_ms INTEGER NOT NULL,
     recipe TEXT NOT NULL,
     importance TEXT NOT NULL,
     host TEXT NOT NULL,
     environment TEXT NOT NULL,
     container_id TEXT,
     container_name TEXT,
     pod_name TEXT,
     pod_ref TEXT,
     host_container_id TEXT,
     first_recorded_ms INTEGER NOT NULL,
     last_recorded_ms INTEGER NOT NULL
   );
   CREATE INDEX detections_time ON detections (time_ms, id);
   CREATE INDEX detections_recipe ON detections (recipe, time_ms);
   CREATE INDEX detections_importance ON detections (importance, time_ms);
   CREATE INDEX detections_host ON detections (host, time_ms);
   CREATE INDEX detections_environment ON detections (environment, time_ms);
   CREATE INDEX detections_container_id ON detections (container_id);
   CREATE INDEX detections_container_name ON detections (container_name);
   CREATE INDEX detections_pod_name ON detections (pod_name);
   CREATE INDEX detections_recorded ON detections (last_recorded_ms);`,
  // 2: sensor health and loss per host and time.
  `CREATE TABLE health (
     host TEXT NOT NULL,
     time_ms INTEGER NOT NULL,
     source TEXT NOT NULL,
     sensor TEXT NOT NULL,
     lines INTEGER NOT NULL,
     lost INTEGER NOT NULL,
     late INTEGER NOT NULL,
     orphans INTEGER NOT NULL,
     unparsed INTEGER NOT NULL,
     gaps INTEGER NOT NULL,
     pending INTEGER NOT NULL,
     max_lateness_ms REAL NOT NULL,
     hold_ms REAL NOT NULL,
     lines_per_second REAL,
     detections INTEGER NOT NULL
   );
   CREATE INDEX health_host_time ON health (host, time_ms);
   CREATE INDEX health_time ON health (time_ms);`,
  // 3: the outboxes of remote sinks: everything after acked_through, less the sparse acks beyond it.
  `CREATE TABLE sinks (name TEXT PRIMARY KEY, acked_through INTEGER NOT NULL);
   CREATE TABLE sink_acks (sink TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (sink, seq)) WITHOUT ROWID;
   CREATE INDEX revisions_origin_seq ON revisions (origin, seq);`,
];

export const STORE_SCHEMA_VERSION = STORE_MIGRATIONS.length;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
const MAX_HEALTH_LIMIT = 100_000;
const MAX_ID_LENGTH = 256;
/** Bucket widths `stats` chooses from, so that a range has at most MAX_BUCKETS. */
const BUCKET_WIDTHS_MS = [60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 604_800_000];
const MAX_BUCKETS = 200;

interface RevisionRow {
  seq: number;
  id: string;
  revision: number;
  state: string;
  recorded_ms: number;
  origin: string | null;
  body: Buffer;
}

interface HealthRow {
  host: string; time_ms: number; source: string; sensor: string; lines: number; lost: number; late: number; orphans: number;
  unparsed: number; gaps: number; pending: number; max_lateness_ms: number; hold_ms: number; lines_per_second: number | null; detections: number;
}

/** The columns a detection is filtered by, from one revision of it. */
interface IndexedColumns {
  time_ms: number;
  recipe: string;
  importance: string;
  host: string;
  environment: string;
  container_id: string | null;
  container_name: string | null;
  pod_name: string | null;
  pod_ref: string | null;
  host_container_id: string | null;
}

function positiveInteger(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

/** A detection as received: any field may be missing or of another type (it may come from another host). */
interface UncheckedDetection {
  readonly id?: unknown;
  readonly time?: unknown;
  readonly recipe?: { readonly id?: unknown; readonly importance?: unknown } | null;
  readonly host?: { readonly hostname?: unknown; readonly container?: { readonly id?: unknown } | null } | null;
  readonly environment?: { readonly kind?: unknown } | null;
  readonly subject?: { readonly process?: { readonly container?: {
    readonly id?: unknown; readonly name?: unknown; readonly pod?: { readonly name?: unknown; readonly namespace?: unknown } | null;
  } | null } | null } | null;
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Checks what the store indexes; a detection received from another host is input like any other. */
function indexedColumns(detection: Detection, path: string): IndexedColumns {
  const d = detection as UncheckedDetection;
  const bad = (what: string): DetectionStoreError => new DetectionStoreError(path, `detection store ${visible(path)}: cannot record detection ${visible(String(d.id).slice(0, MAX_ID_LENGTH))}: ${what}`);
  const timeMs = typeof d.time === 'string' ? Date.parse(d.time) : NaN;
  if (!Number.isFinite(timeMs)) throw bad('its time is not an ISO 8601 time');
  const recipe = d.recipe?.id;
  if (typeof recipe !== 'string' || recipe === '') throw bad('it has no recipe id');
  const importance = d.recipe?.importance;
  if (typeof importance !== 'string' || !isImportance(importance)) throw bad('its importance is not low, medium, high or critical');
  const host = d.host?.hostname;
  if (typeof host !== 'string') throw bad('it has no host name');
  const environment = d.environment?.kind;
  if (typeof environment !== 'string' || !isEnvironmentKind(environment)) throw bad('its environment is not one Tripline knows');
  const c = d.subject?.process?.container ?? null;
  const podName = stringOrNull(c?.pod?.name);
  const podNamespace = stringOrNull(c?.pod?.namespace);
  return {
    time_ms: timeMs, recipe, importance, host, environment,
    container_id: stringOrNull(c?.id), container_name: stringOrNull(c?.name), pod_name: podName,
    pod_ref: podName === null || podNamespace === null ? null : `${podNamespace}/${podName}`, host_container_id: stringOrNull(d.host?.container?.id),
  };
}

function isState(s: string): s is DetectionState {
  return (DETECTION_STATES as readonly string[]).includes(s);
}

function limitOf(limit: number | undefined, fallback: number, max: number, path: string): number {
  if (limit === undefined) return fallback;
  if (!positiveInteger(limit)) throw new DetectionStoreError(path, `detection store ${visible(path)}: a limit is a whole number from 1, not ${String(limit)}`);
  return Math.min(limit, max);
}

/** A WHERE clause and its parameters. */
interface Where {
  readonly sql: string;
  readonly params: unknown[];
}

function whereOf(f: DetectionFilter, path: string): Where {
  const parts: string[] = [];
  const params: unknown[] = [];
  const time = (d: Date, what: string): number => {
    const ms = d.getTime();
    if (!Number.isFinite(ms)) throw new DetectionStoreError(path, `detection store ${visible(path)}: ${what} is not a valid time`);
    return ms;
  };
  if (f.since !== undefined) { parts.push('d.time_ms >= ?'); params.push(time(f.since, 'since')); }
  if (f.until !== undefined) { parts.push('d.time_ms < ?'); params.push(time(f.until, 'until')); }
  const anyOf = (column: string, values: readonly string[] | undefined): void => {
    if (values === undefined) return;
    if (values.length === 0) { parts.push('0'); return; }
    parts.push(`d.${column} IN (${values.map(() => '?').join(', ')})`);
    params.push(...values);
  };
  anyOf('recipe', f.recipe);
  anyOf('importance', f.importance);
  anyOf('host', f.host);
  anyOf('environment', f.environment);
  anyOf('state', f.state);
  if (f.container !== undefined) {
    const c = f.container;
    // An id prefix counts from 12 characters (docker's short id); shorter only as a whole id or a name.
    const prefix = c.length >= 12;
    parts.push(`(d.container_id = ? OR d.host_container_id = ? OR d.container_name = ? OR d.pod_name = ? OR d.pod_ref = ?${
      prefix ? ' OR substr(d.container_id, 1, ?) = ? OR substr(d.host_container_id, 1, ?) = ?' : ''})`);
    params.push(c, c, c, c, c);
    if (prefix) params.push(c.length, c, c.length, c);
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

function encodeCursor(timeMs: number, id: string): string {
  return Buffer.from(JSON.stringify([timeMs, id])).toString('base64url');
}

function decodeCursor(cursor: string, path: string): [number, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return [v[0] as number, v[1]];
  } catch {
    // reported below
  }
  throw new DetectionStoreError(path, `detection store ${visible(path)}: "${visible(cursor.slice(0, 80))}" is not a cursor this store gave`);
}

/**
 * A revision's body: the detection's JSON, raw DEFLATE at level 1. A detection listing 256 files
 * is about 74 KB of JSON and 5.8 KB so (0.6 ms); level 6 saves 10% more for 2.6 times the time.
 */
export function encodeBody(detection: Detection): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(detection), 'utf8'), { level: 1 });
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export class SqliteDetectionStore implements DetectionStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements: {
    readonly findRevision: Database.Statement<[string, number], { seq: number }>;
    readonly insertRevision: Database.Statement<[string, number, string, number, string | null, Buffer]>;
    readonly current: Database.Statement<[string], { revision: number; host: string; seq: number }>;
    readonly upsertCurrent: Database.Statement<[Record<string, unknown>]>;
    readonly touchCurrent: Database.Statement<[number, string]>;
    readonly getCurrent: Database.Statement<[string], RevisionRow>;
    readonly revisions: Database.Statement<[string], RevisionRow>;
    readonly changes: Database.Statement<[number, number], RevisionRow>;
    readonly lastSeq: Database.Statement<[], { seq: number | null }>;
    readonly insertHealth: Database.Statement<[Record<string, unknown>]>;
  };

  /** Use openDetectionStore: it checks the file before SQLite opens it. */
  constructor(real: string, identity: { readonly dev: number; readonly ino: number }, busyTimeoutMs: number) {
    this.path = real;
    try {
      this.db = new Database(real, { fileMustExist: true, timeout: busyTimeoutMs });
    } catch (error) {
      throw new DetectionStoreError(real, `detection store ${visible(real)}: cannot open: ${(error as Error).message}`, { cause: error });
    }
    try {
      // The file SQLite opened is the one checked (its directory is ours alone, so nothing can
      // have replaced it since; asked anyway, it costs one stat).
      const st = statSync(real);
      if (st.dev !== identity.dev || st.ino !== identity.ino) throw new DetectionStoreError(real, `detection store ${visible(real)}: the file changed while it was opened`);
      this.migrate();
      this.statements = this.prepare();
    } catch (error) {
      this.db.close();
      if (error instanceof DetectionStoreError) throw error;
      throw new DetectionStoreError(real, `detection store ${visible(real)}: ${(error as Error).message}`, { cause: error });
    }
  }

  private fail(message: string): DetectionStoreError {
    return new DetectionStoreError(this.path, `detection store ${visible(this.path)}: ${message}`);
  }

  private migrate(): void {
    const db = this.db;
    const version = (): number => db.pragma('user_version', { simple: true }) as number;
    // Checked before anything is written: a newer or foreign file is left as it is.
    const newer = (v: number): DetectionStoreError => this.fail(`its schema is version ${String(v)}, written by a newer Tripline; this one reads versions up to ${String(STORE_SCHEMA_VERSION)}: upgrade Tripline or use another --store`);
    if (version() > STORE_SCHEMA_VERSION) throw newer(version());
    // Before the first table: pages freed by prune can be given back to the file system.
    if ((db.pragma('page_count', { simple: true }) as number) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
    if (mode.toLowerCase() !== 'wal') throw this.fail(`cannot use write-ahead logging (journal mode stays ${visible(mode)})`);
    db.pragma('synchronous = FULL');
    db.transaction(() => {
      const v = version();
      if (v > STORE_SCHEMA_VERSION) throw newer(v);
      const app = db.pragma('application_id', { simple: true }) as number;
      if (app !== 0 && app !== STORE_APPLICATION_ID) throw this.fail(`it is a SQLite database of another program (application_id ${String(app)}), not a Tripline detection store`);
      if (v === 0) {
        const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n;
        if (tables > 0) throw this.fail(`it is a SQLite database of another program (${String(tables)} table(s) and no Tripline schema version), not a Tripline detection store`);
      }
      for (let i = v; i < STORE_SCHEMA_VERSION; i++) db.exec(STORE_MIGRATIONS[i] ?? '');
      if (v < STORE_SCHEMA_VERSION) db.pragma(`user_version = ${String(STORE_SCHEMA_VERSION)}`);
      if (app === 0) db.pragma(`application_id = ${String(STORE_APPLICATION_ID)}`);
    }).immediate();
  }

  private prepare(): SqliteDetectionStore['statements'] {
    const db = this.db;
    const revisionColumns = 'r.seq, r.id, r.revision, r.state, r.recorded_ms, r.origin, r.body';
    return {
      findRevision: db.prepare('SELECT seq FROM revisions WHERE id = ? AND revision = ?'),
      insertRevision: db.prepare('INSERT INTO revisions (id, revision, state, recorded_ms, origin, body) VALUES (?, ?, ?, ?, ?, ?)'),
      current: db.prepare('SELECT revision, host, seq FROM detections WHERE id = ?'),
      upsertCurrent: db.prepare(`INSERT INTO detections (id, seq, revision, state, time_ms, recipe, importance, host, environment,
          container_id, container_name, pod_name, pod_ref, host_container_id, first_recorded_ms, last_recorded_ms)
        VALUES (@id, @seq, @revision, @state, @time_ms, @recipe, @importance, @host, @environment,
          @container_id, @container_name, @pod_name, @pod_ref, @host_container_id, @recorded_ms, @recorded_ms)
        ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, revision = excluded.revision, state = excluded.state, time_ms = excluded.time_ms,
          recipe = excluded.recipe, importance = excluded.importance, host = excluded.host, environment = excluded.environment,
          container_id = excluded.container_id, container_name = excluded.container_name, pod_name = excluded.pod_name,
          pod_ref = excluded.pod_ref, host_container_id = excluded.host_container_id,
          last_recorded_ms = max(last_recorded_ms, excluded.last_recorded_ms)`),
      touchCurrent: db.prepare('UPDATE detections SET last_recorded_ms = max(last_recorded_ms, ?) WHERE id = ?'),
      getCurrent: db.prepare(`SELECT ${revisionColumns} FROM detections d JOIN revisions r ON r.seq = d.seq WHERE d.id = ?`),
      revisions: db.prepare(`SELECT ${revisionColumns} FROM revisions r WHERE r.id = ? ORDER BY r.revision`),
      changes: db.prepare(`SELECT ${revisionColumns} FROM revisions r WHERE r.seq > ? ORDER BY r.seq LIMIT ?`),
      lastSeq: db.prepare('SELECT max(seq) AS seq FROM revisions'),
      insertHealth: db.prepare(`INSERT INTO health (host, time_ms, source, sensor, lines, lost, late, orphans, unparsed, gaps, pending,
          max_lateness_ms, hold_ms, lines_per_second, detections)
        VALUES (@host, @time_ms, @source, @sensor, @lines, @lost, @late, @orphans, @unparsed, @gaps, @pending,
          @max_lateness_ms, @hold_ms, @lines_per_second, @detections)`),
    };
  }

  private toStored(row: RevisionRow): StoredRevision {
    let detection: Detection;
    try {
      detection = JSON.parse(inflateRawSync(row.body).toString('utf8')) as Detection;
    } catch (error) {
      throw new DetectionStoreError(this.path, `detection store ${visible(this.path)}: revision ${String(row.revision)} of ${visible(row.id)} (seq ${String(row.seq)}) cannot be read: ${(error as Error).message}`, { cause: error });
    }
    return {
      seq: row.seq, id: row.id, revision: row.revision, state: isState(row.state) ? row.state : 'updated',
      recordedAt: new Date(row.recorded_ms).toISOString(), origin: row.origin ?? undefined, detection,
    };
  }

  /** One revision inside the caller's transaction. */
  private recordOne(input: DetectionRevisionInput, nowMs: number): RecordOutcome {
    const d = input.detection;
    if (typeof d.id !== 'string' || d.id === '' || d.id.length > MAX_ID_LENGTH) throw this.fail(`cannot record a detection whose id is not a string of 1 to ${String(MAX_ID_LENGTH)} characters`);
    if (!positiveInteger(input.revision)) throw this.fail(`cannot record detection ${visible(d.id)}: revision ${String(input.revision)} is not a whole number from 1`);
    if (!isState(input.state)) throw this.fail(`cannot record detection ${visible(d.id)}: state ${visible(String(input.state))} is not open, updated or closed`);
    const columns = indexedColumns(d, this.path);
    const s = this.statements;
    const current = s.current.get(d.id);
    // One detection, one host: a revision of an id the store holds for another host is not
    // taken (neither into the history nor as the current row), whatever its revision number.
    if (current !== undefined && current.host !== columns.host) return { kind: 'conflict', seq: current.seq, storedHost: current.host };
    const found = s.findRevision.get(d.id, input.revision);
    if (found !== undefined) return { kind: 'duplicate', seq: found.seq };
    const seq = Number(s.insertRevision.run(d.id, input.revision, input.state, nowMs, input.origin ?? null, encodeBody(d)).lastInsertRowid);
    // A revision older than the current one (arriving late from a remote sender) is kept in the history only.
    if (current !== undefined && current.revision > input.revision) {
      s.touchCurrent.run(nowMs, d.id);
      return { kind: 'recorded', seq, current: false };
    }
    s.upsertCurrent.run({ id: d.id, seq, revision: input.revision, state: input.state, recorded_ms: nowMs, ...columns });
    return { kind: 'recorded', seq, current: true };
  }

  record(input: DetectionRevisionInput): RecordOutcome {
    // IMMEDIATE: the write lock is taken first, so a busy store is waited for (busy_timeout), never a deadlock.
    return this.db.transaction(() => this.recordOne(input, Date.now())).immediate();
  }

  recordBatch(inputs: readonly DetectionRevisionInput[]): RecordOutcome[] {
    return this.db.transaction(() => {
      const now = Date.now();
      return inputs.map((i) => this.recordOne(i, now));
    }).immediate();
  }

  list(query: ListQuery = {}): DetectionPage {
    const limit = limitOf(query.limit, DEFAULT_LIMIT, MAX_LIMIT, this.path);
    const where = whereOf(query, this.path);
    let sql = where.sql;
    const params = [...where.params];
    if (query.cursor !== undefined) {
      const [timeMs, id] = decodeCursor(query.cursor, this.path);
      sql += `${sql === '' ? 'WHERE' : ' AND'} (d.time_ms < ? OR (d.time_ms = ? AND d.id < ?))`;
      params.push(timeMs, timeMs, id);
    }
    const rows = this.db.prepare(`SELECT r.seq, r.id, r.revision, r.state, r.recorded_ms, r.origin, r.body, d.time_ms
      FROM detections d JOIN revisions r ON r.seq = d.seq ${sql} ORDER BY d.time_ms DESC, d.id DESC LIMIT ?`)
      .all(...params, limit + 1) as (RevisionRow & { time_ms: number })[];
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return { items: page.map((r) => this.toStored(r)), nextCursor: more && last !== undefined ? encodeCursor(last.time_ms, last.id) : undefined };
  }

  get(id: string): StoredRevision | undefined {
    const row = this.statements.getCurrent.get(id);
    return row === undefined ? undefined : this.toStored(row);
  }

  revisions(id: string): readonly StoredRevision[] {
    return this.statements.revisions.all(id).map((r) => this.toStored(r));
  }

  changesSince(afterSeq: number, limit: number): readonly StoredRevision[] {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw this.fail(`a sequence number is a whole number from 0, not ${String(afterSeq)}`);
    return this.statements.changes.all(afterSeq, limitOf(limit, DEFAULT_LIMIT, MAX_LIMIT, this.path)).map((r) => this.toStored(r));
  }

  lastSeq(): number {
    return this.statements.lastSeq.get()?.seq ?? 0;
  }

  stats(query: StatsQuery = {}): DetectionStats {
    const where = whereOf(query, this.path);
    const db = this.db;
    const counts = (column: string): Record<string, number> => {
      const rows = db.prepare(`SELECT d.${column} AS k, count(*) AS n FROM detections d ${where.sql} GROUP BY d.${column} ORDER BY n DESC, k`)
        .all(...where.params) as { k: string; n: number }[];
      return Object.fromEntries(rows.map((r) => [r.k, r.n]));
    };
    const range = db.prepare(`SELECT count(*) AS n, min(d.time_ms) AS first, max(d.time_ms) AS last FROM detections d ${where.sql}`)
      .get(...where.params) as { n: number; first: number | null; last: number | null };
    let bucketMs = query.bucketMs;
    if (bucketMs !== undefined && !positiveInteger(bucketMs)) throw this.fail(`a bucket width is a whole number of milliseconds from 1, not ${String(bucketMs)}`);
    if (bucketMs === undefined) {
      const span = (range.last ?? 0) - (range.first ?? 0);
      bucketMs = BUCKET_WIDTHS_MS.find((w) => span / w < MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS);
    }
    const buckets = (db.prepare(`SELECT (d.time_ms / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS b, count(*) AS n FROM detections d ${where.sql} GROUP BY b ORDER BY b`)
      .all(bucketMs, bucketMs, ...where.params) as { b: number; n: number }[]).map((r) => ({ start: new Date(r.b).toISOString(), count: r.n }));
    return {
      total: range.n, byRecipe: counts('recipe'), byImportance: counts('importance'), byHost: counts('host'),
      byEnvironment: counts('environment'), byState: counts('state'), bucketMs, buckets,
      first: range.first === null ? undefined : new Date(range.first).toISOString(),
      last: range.last === null ? undefined : new Date(range.last).toISOString(),
    };
  }

  recordHealth(sample: SensorHealthSample): void {
    const timeMs = Date.parse(sample.time);
    if (!Number.isFinite(timeMs)) throw this.fail(`a health sample's time is not an ISO 8601 time: ${visible(sample.time)}`);
    this.statements.insertHealth.run({
      host: sample.host, time_ms: timeMs, source: sample.source, sensor: sample.sensor, lines: sample.lines, lost: sample.lost,
      late: sample.late, orphans: sample.orphans, unparsed: sample.unparsed, gaps: sample.gaps, pending: sample.pending,
      max_lateness_ms: sample.maxLatenessMs, hold_ms: sample.holdMs, lines_per_second: sample.linesPerSecond ?? null, detections: sample.detections,
    });
  }

  listHealth(query: HealthQuery = {}): readonly SensorHealthSample[] {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (query.host !== undefined) {
      parts.push(query.host.length === 0 ? '0' : `host IN (${query.host.map(() => '?').join(', ')})`);
      params.push(...query.host);
    }
    if (query.since !== undefined) { parts.push('time_ms >= ?'); params.push(query.since.getTime()); }
    if (query.until !== undefined) { parts.push('time_ms < ?'); params.push(query.until.getTime()); }
    const limit = limitOf(query.limit, 1_000, MAX_HEALTH_LIMIT, this.path);
    const rows = this.db.prepare(`SELECT * FROM health ${parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`} ORDER BY time_ms DESC, rowid DESC LIMIT ?`)
      .all(...params, limit) as HealthRow[];
    return rows.map((r) => ({
      host: r.host, time: new Date(r.time_ms).toISOString(), source: r.source === 'run' ? 'run' : 'watch', sensor: r.sensor,
      lines: r.lines, lost: r.lost, late: r.late, orphans: r.orphans, unparsed: r.unparsed, gaps: r.gaps, pending: r.pending,
      maxLatenessMs: r.max_lateness_ms, holdMs: r.hold_ms, linesPerSecond: r.lines_per_second ?? undefined, detections: r.detections,
    }));
  }

  sizeBytes(): number {
    return fileSize(this.path) + fileSize(`${this.path}-wal`);
  }

  /** Gives freed pages back to the file system and empties the WAL (as far as readers in other processes allow). */
  private compact(): void {
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Removes these detections with every revision; returns how many of each. */
  private removeDetections(selectIds: string, params: unknown[]): { detections: number; revisions: number } {
    return this.db.transaction(() => {
      this.db.prepare(`CREATE TEMP TABLE IF NOT EXISTS doomed (id TEXT PRIMARY KEY)`).run();
      this.db.prepare('DELETE FROM temp.doomed').run();
      this.db.prepare(`INSERT INTO temp.doomed (id) ${selectIds}`).run(...params);
      const revisions = this.db.prepare('DELETE FROM revisions WHERE id IN (SELECT id FROM temp.doomed)').run().changes;
      const detections = this.db.prepare('DELETE FROM detections WHERE id IN (SELECT id FROM temp.doomed)').run().changes;
      this.db.prepare('DELETE FROM sink_acks WHERE NOT EXISTS (SELECT 1 FROM revisions r WHERE r.seq = sink_acks.seq)').run();
      this.db.prepare('DELETE FROM temp.doomed').run();
      return { detections, revisions };
    }).immediate();
  }

  prune(options: PruneOptions): PruneResult {
    const bytesBefore = this.sizeBytes();
    let detections = 0;
    let revisions = 0;
    let healthSamples = 0;
    if (options.olderThan !== undefined) {
      const cutoff = options.olderThan.getTime();
      if (!Number.isFinite(cutoff)) throw this.fail('prune: the cut-off is not a valid time');
      const removed = this.removeDetections('SELECT id FROM detections WHERE last_recorded_ms < ?', [cutoff]);
      detections += removed.detections;
      revisions += removed.revisions;
      healthSamples += this.db.prepare('DELETE FROM health WHERE time_ms < ?').run(cutoff).changes;
    }
    this.compact();
    const max = options.maxBytes;
    if (max !== undefined) {
      if (!positiveInteger(max)) throw this.fail(`prune: a size cap is a whole number of bytes from 1, not ${String(max)}`);
      const pageSize = this.db.pragma('page_size', { simple: true }) as number;
      // The oldest detections go, in batches sized from the bytes a detection takes on average, until the file fits.
      for (let round = 0; round < 64 && this.sizeBytes() > max; round++) {
        const count = (this.db.prepare('SELECT count(*) AS n FROM detections').get() as { n: number }).n;
        const healthCount = (this.db.prepare('SELECT count(*) AS n FROM health').get() as { n: number }).n;
        if (count === 0 && healthCount === 0) break;
        const used = ((this.db.pragma('page_count', { simple: true }) as number) - (this.db.pragma('freelist_count', { simple: true }) as number)) * pageSize;
        const excess = this.sizeBytes() - max;
        const share = Math.max(1, Math.ceil((excess / Math.max(used, 1)) * (count + healthCount)));
        if (count > 0) {
          const removed = this.removeDetections('SELECT id FROM detections ORDER BY last_recorded_ms, id LIMIT ?', [Math.min(count, share)]);
          detections += removed.detections;
          revisions += removed.revisions;
        }
        if (healthCount > 0) {
          healthSamples += this.db.prepare('DELETE FROM health WHERE rowid IN (SELECT rowid FROM health ORDER BY time_ms LIMIT ?)')
            .run(Math.min(healthCount, Math.ceil(share * healthCount / Math.max(count + healthCount, 1)))).changes;
        }
        this.compact();
      }
    }
    return { detections, revisions, healthSamples, bytesBefore, bytesAfter: this.sizeBytes() };
  }

  outbox(sink: string): SinkOutbox {
    const db = this.db;
    if (sink === '') throw this.fail('a sink has a name');
    db.prepare('INSERT OR IGNORE INTO sinks (name, acked_through) VALUES (?, (SELECT coalesce(max(seq), 0) FROM revisions))').run(sink);
    const pendingSql = `FROM revisions r WHERE r.origin IS NULL AND r.seq > (SELECT acked_through FROM sinks WHERE name = ?)
      AND NOT EXISTS (SELECT 1 FROM sink_acks a WHERE a.sink = ? AND a.seq = r.seq)`;
    const pending = db.prepare(`SELECT r.seq, r.id, r.revision, r.state, r.recorded_ms, r.origin, r.body ${pendingSql} ORDER BY r.seq LIMIT ?`);
    const count = db.prepare(`SELECT count(*) AS n ${pendingSql}`);
    const ack = db.prepare('INSERT OR IGNORE INTO sink_acks (sink, seq) VALUES (?, ?)');
    const firstPending = db.prepare(`SELECT min(r.seq) AS seq ${pendingSql}`);
    const advance = db.prepare('UPDATE sinks SET acked_through = ? WHERE name = ?');
    const forget = db.prepare('DELETE FROM sink_acks WHERE sink = ? AND seq <= ?');
    const acknowledge = db.transaction((seqs: readonly number[]) => {
      for (const seq of seqs) ack.run(sink, seq);
      // Everything up to the first revision still pending is acknowledged: one number stands for it.
      const first = (firstPending.get(sink, sink) as { seq: number | null }).seq;
      const through = first === null ? this.lastSeq() : first - 1;
      advance.run(through, sink);
      forget.run(sink, through);
    });
    return {
      sink,
      pending: (limit) => (pending.all(sink, sink, limitOf(limit, DEFAULT_LIMIT, MAX_LIMIT, this.path)) as RevisionRow[]).map((r) => this.toStored(r)),
      acknowledge: (seqs) => { acknowledge.immediate(seqs); },
      count: () => (count.get(sink, sink) as { n: number }).n,
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Checks the file (see checkStoreFile) and opens it, creating and migrating as needed. */
export function openDetectionStore(options: OpenStoreOptions): SqliteDetectionStore {
  const checked = checkStoreFile(options.path, options.create);
  return new SqliteDetectionStore(checked.real, checked, options.busyTimeoutMs ?? 5_000);
}
