// The SQLite detection store on real files in temp directories: revisions, filters, paging,
// change streams across connections and processes, migrations, prune, outboxes, and a writer
// killed with SIGKILL mid-stream.

import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection, DetectionContainer } from '../model/detection.ts';
import type { Importance } from '../model/importance.ts';
import type { DetectionState, SensorHealthSample } from './detection-store.ts';
import { encodeBody, openDetectionStore, STORE_APPLICATION_ID, STORE_MIGRATIONS, STORE_SCHEMA_VERSION, type SqliteDetectionStore } from './sqlite-detection-store.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;
const T0 = Date.parse('2026-11-01T10:00:00.000Z');
const WRITER = new URL('../../test/store-writer.ts', import.meta.url).pathname;

interface Variant {
  readonly id: string;
  readonly atMs?: number;
  readonly recipe?: string;
  readonly importance?: Importance;
  readonly host?: string;
  readonly environment?: 'ci' | 'production' | 'staging';
  readonly container?: DetectionContainer | null;
  readonly files?: number;
}

function detection(v: Variant): Detection {
  return {
    ...BASE,
    id: v.id,
    time: new Date(v.atMs ?? T0).toISOString(),
    recipe: { ...BASE.recipe, id: v.recipe ?? BASE.recipe.id, importance: v.importance ?? BASE.recipe.importance },
    host: { ...BASE.host, hostname: v.host ?? BASE.host.hostname },
    environment: { ...BASE.environment, kind: v.environment ?? 'ci' },
    subject: { ...BASE.subject, process: { ...BASE.subject.process, container: v.container ?? null } },
    evidence: { ...BASE.evidence, files: BASE.evidence.files.slice(0, v.files ?? BASE.evidence.files.length) },
  };
}

function container(id: string, name: string, pod?: { namespace: string; name: string }): DetectionContainer {
  return {
    runtime: 'containerd', id, name, image: 'registry/app:1', imageDigest: null, labels: {},
    pod: pod === undefined ? null : { ...pod, uid: null, labels: {} },
  };
}

let dir: string;
let path: string;
const open: SqliteDetectionStore[] = [];

function store(): SqliteDetectionStore {
  const s = openDetectionStore({ path, create: true });
  open.push(s);
  return s;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tripline-store-'));
  path = join(dir, 'tripline.db');
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('revisions', () => {
  test('the same (id, revision) is recorded once; the highest revision is current; every revision is kept', () => {
    const s = store();
    const first = s.record({ detection: detection({ id: 'a', files: 3 }), revision: 1, state: 'open' });
    assert.equal(first.kind, 'recorded');
    const again = s.record({ detection: detection({ id: 'a', files: 1 }), revision: 1, state: 'open' });
    assert.deepEqual(again, { kind: 'duplicate', seq: first.seq });
    s.record({ detection: detection({ id: 'a', files: 5 }), revision: 2, state: 'updated' });
    s.record({ detection: detection({ id: 'a', files: 7 }), revision: 3, state: 'closed' });
    const current = s.get('a');
    assert.equal(current?.revision, 3);
    assert.equal(current.state, 'closed');
    assert.equal(current.detection.evidence.files.length, 7);
    assert.deepEqual(s.revisions('a').map((r) => [r.revision, r.state, r.detection.evidence.files.length]), [[1, 'open', 3], [2, 'updated', 5], [3, 'closed', 7]]);
    assert.equal(s.list().items.length, 1, 'one detection, not one per revision');
    assert.equal(s.get('nope'), undefined);
  });

  test('an id the store holds for one host is not taken from another, whatever the revision', () => {
    const s = store();
    s.record({ detection: detection({ id: 'a', host: 'web-1', importance: 'critical' }), revision: 1, state: 'open' });
    const forged = s.record({ detection: detection({ id: 'a', host: 'evil', importance: 'low' }), revision: 9, state: 'closed', origin: 'tripline.detections.evil' });
    assert.deepEqual(forged, { kind: 'conflict', seq: 1, storedHost: 'web-1' });
    assert.equal(s.get('a')?.detection.recipe.importance, 'critical');
    assert.deepEqual(s.revisions('a').map((r) => r.revision), [1], 'not in the history either');
    assert.equal(s.lastSeq(), 1);
  });

  test('a revision arriving after a later one is kept in the history but does not replace the current one', () => {
    const s = store();
    s.record({ detection: detection({ id: 'a', importance: 'critical' }), revision: 3, state: 'closed' });
    const late = s.record({ detection: detection({ id: 'a', importance: 'low' }), revision: 2, state: 'updated' });
    assert.deepEqual(late.kind === 'recorded' && late.current, false);
    assert.equal(s.get('a')?.revision, 3);
    assert.equal(s.list({ importance: ['low'] }).items.length, 0, 'the indexed columns are the current revision\'s');
    assert.deepEqual(s.revisions('a').map((r) => r.revision), [2, 3]);
  });

  test('a detection missing what the store indexes is refused with its id, and nothing is written', () => {
    const s = store();
    const broken = { ...detection({ id: 'bad\u001b[31m' }), time: 'yesterday' };
    assert.throws(() => s.record({ detection: broken, revision: 1, state: 'open' }), /cannot record detection bad\\x1b\[31m: its time is not an ISO 8601 time/);
    assert.throws(() => s.record({ detection: detection({ id: 'x' }), revision: 0, state: 'open' }), /revision 0 is not a whole number from 1/);
    assert.throws(() => s.record({ detection: detection({ id: 'x' }), revision: 1, state: 'gone' as DetectionState }), /state gone is not open, updated or closed/);
    assert.equal(s.lastSeq(), 0);
  });

  test('recordBatch is one transaction: a bad revision in it leaves nothing of the batch', () => {
    const s = store();
    assert.throws(() => s.recordBatch([
      { detection: detection({ id: 'b1' }), revision: 1, state: 'open' },
      { detection: { ...detection({ id: 'b2' }), time: 'never' }, revision: 1, state: 'open' },
    ]));
    assert.equal(s.get('b1'), undefined);
    const outcomes = s.recordBatch([
      { detection: detection({ id: 'b1' }), revision: 1, state: 'open' },
      { detection: detection({ id: 'b1' }), revision: 1, state: 'open' },
    ]);
    assert.deepEqual(outcomes.map((o) => o.kind), ['recorded', 'duplicate']);
  });
});

describe('list', () => {
  function fill(s: SqliteDetectionStore): void {
    const rows: Variant[] = [
      { id: 'd1', atMs: T0, recipe: 'os_network_fingerprint', importance: 'high', host: 'web-1', environment: 'production',
        container: container('a'.repeat(64), 'shop', { namespace: 'prod', name: 'shop-7f9' }) },
      { id: 'd2', atMs: T0 + 60_000, recipe: 'os_network_fingerprint', importance: 'medium', host: 'ci-7', environment: 'ci' },
      { id: 'd3', atMs: T0 + 120_000, recipe: 'credential_files', importance: 'critical', host: 'web-1', environment: 'production',
        container: container('b'.repeat(64), 'db') },
      { id: 'd4', atMs: T0 + 180_000, recipe: 'credential_files', importance: 'high', host: 'web-2', environment: 'staging' },
    ];
    for (const v of rows) s.record({ detection: detection(v), revision: 1, state: v.id === 'd4' ? 'open' : 'closed' });
  }
  const ids = (s: SqliteDetectionStore, q: Parameters<SqliteDetectionStore['list']>[0]): string[] => s.list(q).items.map((i) => i.id);

  test('newest first, each filter alone and combined', () => {
    const s = store();
    fill(s);
    assert.deepEqual(ids(s, {}), ['d4', 'd3', 'd2', 'd1']);
    assert.deepEqual(ids(s, { since: new Date(T0 + 60_000) }), ['d4', 'd3', 'd2'], 'since is inclusive');
    assert.deepEqual(ids(s, { until: new Date(T0 + 120_000) }), ['d2', 'd1'], 'until is exclusive');
    assert.deepEqual(ids(s, { recipe: ['credential_files'] }), ['d4', 'd3']);
    assert.deepEqual(ids(s, { importance: ['high', 'critical'] }), ['d4', 'd3', 'd1']);
    assert.deepEqual(ids(s, { host: ['web-1'] }), ['d3', 'd1']);
    assert.deepEqual(ids(s, { environment: ['production'] }), ['d3', 'd1']);
    assert.deepEqual(ids(s, { state: ['open'] }), ['d4']);
    assert.deepEqual(ids(s, { host: ['web-1'], recipe: ['os_network_fingerprint'] }), ['d1']);
    assert.deepEqual(ids(s, { host: [] }), [], 'an empty list matches nothing');
  });

  test('container: full id, a 12-character prefix, the name, the pod name or namespace/pod; a short prefix is not enough', () => {
    const s = store();
    fill(s);
    assert.deepEqual(ids(s, { container: 'a'.repeat(64) }), ['d1']);
    assert.deepEqual(ids(s, { container: 'b'.repeat(12) }), ['d3']);
    assert.deepEqual(ids(s, { container: 'bbbb' }), [], 'a prefix shorter than 12 could name many containers');
    assert.deepEqual(ids(s, { container: 'db' }), ['d3']);
    assert.deepEqual(ids(s, { container: 'shop-7f9' }), ['d1']);
    assert.deepEqual(ids(s, { container: 'prod/shop-7f9' }), ['d1']);
    assert.deepEqual(ids(s, { container: "x' OR 1=1 --" }), [], 'parameters, never SQL text');
  });

  test('pages by limit and cursor cover every detection once, in order, also with equal times', () => {
    const s = store();
    for (let i = 0; i < 57; i++) s.record({ detection: detection({ id: `p${String(i).padStart(2, '0')}`, atMs: T0 + Math.floor(i / 5) * 1000 }), revision: 1, state: 'open' });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = s.list({ limit: 10, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    assert.equal(pages, 6);
    assert.deepEqual(seen, ids(s, { limit: 100 }));
    assert.equal(new Set(seen).size, 57);
    assert.throws(() => s.list({ cursor: 'garbage\u0007' }), /"garbage\\x07" is not a cursor this store gave/);
  });
});

describe('change stream', () => {
  test('another connection follows the writes in seq order with changesSince', () => {
    const writer = store();
    const reader = store();
    assert.equal(reader.lastSeq(), 0);
    writer.record({ detection: detection({ id: 'c1' }), revision: 1, state: 'open' });
    writer.record({ detection: detection({ id: 'c2' }), revision: 1, state: 'open' });
    const first = reader.changesSince(0, 100);
    assert.deepEqual(first.map((r) => [r.id, r.revision]), [['c1', 1], ['c2', 1]]);
    writer.record({ detection: detection({ id: 'c1' }), revision: 2, state: 'closed' });
    const after = reader.changesSince(first[first.length - 1]?.seq ?? 0, 100);
    assert.deepEqual(after.map((r) => [r.id, r.revision, r.state]), [['c1', 2, 'closed']]);
    assert.equal(reader.lastSeq(), after[0]?.seq);
    assert.deepEqual(reader.changesSince(0, 2).map((r) => r.id), ['c1', 'c2'], 'limit');
  });

  test('seq is never reused after a prune', () => {
    const s = store();
    s.record({ detection: detection({ id: 'old' }), revision: 1, state: 'closed' });
    const before = s.lastSeq();
    s.prune({ olderThan: new Date(Date.now() + 60_000) });
    assert.equal(s.lastSeq(), 0);
    const next = s.record({ detection: detection({ id: 'new' }), revision: 1, state: 'open' });
    assert.ok(next.seq > before, `${String(next.seq)} > ${String(before)}`);
  });
});

interface Writer {
  /** The ids it said it recorded, once it exits. */
  readonly done: Promise<string[]>;
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  readonly lines: AsyncIterableIterator<string>;
}

/** Starts test/store-writer.ts and waits until it has the store open (it writes once told to go). */
async function startWriter(prefix: string, count: number): Promise<Writer> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, prefix, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  assert.equal(first.value, 'ready');
  const done = (async () => {
    const recorded: string[] = [];
    for (;;) {
      const next = await lines.next();
      if (next.done === true) break;
      const m = /^recorded (\S+) \d+$/.exec(next.value);
      if (m?.[1] !== undefined) recorded.push(m[1]);
    }
    return recorded;
  })();
  return { done, child, lines };
}

function go(w: Writer): void {
  w.child.stdin.end('go\n');
}

describe('several processes', () => {
  test('two processes writing at once: every revision of both is there, seqs unique and in commit order', async () => {
    store().close();
    const [a, b] = await Promise.all([startWriter('a', 150), startWriter('b', 150)]);
    go(a);
    go(b);
    const [fromA, fromB] = await Promise.all([a.done, b.done]);
    assert.equal(fromA.length, 150);
    assert.equal(fromB.length, 150);
    const s = store();
    const changes = s.changesSince(0, 10_000);
    assert.equal(changes.length, 600, 'two revisions per detection');
    const seqs = changes.map((c) => c.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y));
    for (const id of [...fromA, ...fromB]) assert.equal(s.get(id)?.state, 'closed', id);
    // Both wrote while the other did: their revisions interleave.
    const firstB = changes.findIndex((c) => c.id.startsWith('b-'));
    const lastA = changes.findLastIndex((c) => c.id.startsWith('a-'));
    assert.ok(firstB < lastA, 'the writers overlapped');
  });

  test('kill -9 of a writer mid-stream loses nothing it had reported', async () => {
    const w = await startWriter('k', 0);
    go(w);
    const told: string[] = [];
    for (;;) {
      const next = await w.lines.next();
      if (next.done === true) assert.fail('the writer ended before it was killed');
      const m = /^recorded (\S+) \d+$/.exec(next.value);
      if (m?.[1] !== undefined) told.push(m[1]);
      if (told.length === 300) break;
    }
    const exited = new Promise<NodeJS.Signals | null>((resolve) => { w.child.once('exit', (_code, signal) => { resolve(signal); }); });
    w.child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    // What it printed after the 300th line (still in the pipe) was reported too.
    for (const id of await w.done) if (!told.includes(id)) told.push(id);
    const s = store();
    for (const id of told) {
      const got = s.get(id);
      assert.equal(got?.state, 'closed', `${id} was reported, so it is in the store`);
    }
    // A revision the kill cut short may be there or not, but never half: every row reads back.
    for (const r of s.changesSince(0, 10_000)) assert.equal(r.detection.id, r.id);
  });
});

describe('migrations', () => {
  test('a version 1 file is upgraded in place and keeps its detections', () => {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(STORE_MIGRATIONS[0] ?? '');
    db.prepare('INSERT INTO revisions (id, revision, state, recorded_ms, origin, body) VALUES (?, 1, ?, ?, NULL, ?)')
      .run('v1', 'closed', T0, encodeBody(detection({ id: 'v1' })));
    db.prepare(`INSERT INTO detections (id, seq, revision, state, time_ms, recipe, importance, host, environment, first_recorded_ms, last_recorded_ms)
      VALUES ('v1', 1, 1, 'closed', ?, 'os_network_fingerprint', 'high', 'old-host', 'ci', ?, ?)`).run(T0, T0, T0);
    db.pragma('user_version = 1');
    db.pragma(`application_id = ${String(STORE_APPLICATION_ID)}`);
    db.close();
    const s = store();
    assert.equal(s.get('v1')?.detection.id, 'v1');
    assert.deepEqual(s.list({ host: ['old-host'] }).items.map((i) => i.id), ['v1']);
    s.recordHealth(healthSample('old-host', T0));
    assert.equal(s.listHealth().length, 1, 'the tables of later versions exist');
    s.close();
    const check = new Database(path, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), STORE_SCHEMA_VERSION);
    check.close();
  });

  test('a file from a newer Tripline is refused, naming the file and both versions, and left as it was', () => {
    store().record({ detection: detection({ id: 'n' }), revision: 1, state: 'open' });
    open.splice(0).forEach((s) => { s.close(); });
    const db = new Database(path);
    db.pragma(`user_version = ${String(STORE_SCHEMA_VERSION + 7)}`);
    db.close();
    assert.throws(() => openDetectionStore({ path, create: false }), (e: Error) => {
      assert.match(e.message, new RegExp(`${path.replaceAll('.', '\\.')}: its schema is version ${String(STORE_SCHEMA_VERSION + 7)}, written by a newer Tripline; this one reads versions up to ${String(STORE_SCHEMA_VERSION)}`));
      return true;
    });
    const check = new Database(path, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), STORE_SCHEMA_VERSION + 7);
    check.close();
  });

  test('a SQLite file of another program is refused, not migrated', () => {
    const db = new Database(path);
    db.exec('CREATE TABLE notes (t TEXT)');
    db.close();
    assert.throws(() => openDetectionStore({ path, create: false }), /it is a SQLite database of another program \(1 table\(s\) and no Tripline schema version\)/);
  });
});

function healthSample(host: string, atMs: number, lost = 0): SensorHealthSample {
  return {
    host, time: new Date(atMs).toISOString(), source: 'watch', sensor: 'tripline-sensor 1', lines: 1000, lost, late: 2, orphans: 0,
    unparsed: 0, gaps: 0, pending: 3, maxLatenessMs: 12.5, holdMs: 20, linesPerSecond: 16.7, detections: 1,
  };
}

describe('stats, health, prune, outbox', () => {
  test('stats count detections (not revisions) per recipe, importance, host, environment, state and time bucket', () => {
    const s = store();
    s.record({ detection: detection({ id: 's1', atMs: T0, host: 'h1' }), revision: 1, state: 'open' });
    s.record({ detection: detection({ id: 's1', atMs: T0, host: 'h1' }), revision: 2, state: 'closed' });
    s.record({ detection: detection({ id: 's2', atMs: T0 + 30_000, host: 'h2', importance: 'critical' }), revision: 1, state: 'open' });
    s.record({ detection: detection({ id: 's3', atMs: T0 + 3_600_000, host: 'h1', environment: 'production' }), revision: 1, state: 'closed' });
    const st = s.stats();
    assert.equal(st.total, 3);
    assert.deepEqual(st.byHost, { h1: 2, h2: 1 });
    assert.deepEqual(st.byState, { closed: 2, open: 1 });
    assert.deepEqual(st.byEnvironment, { ci: 2, production: 1 });
    assert.equal(st.byImportance.critical, 1);
    assert.equal(st.bucketMs, 60_000, 'an hour in minute buckets');
    assert.deepEqual(st.buckets, [{ start: new Date(T0).toISOString(), count: 2 }, { start: new Date(T0 + 3_600_000).toISOString(), count: 1 }]);
    assert.equal(s.stats({ host: ['h2'] }).total, 1);
    assert.equal(s.stats({ bucketMs: 3_600_000 * 24 }).buckets.length, 1);
  });

  test('health samples per host and time, newest first', () => {
    const s = store();
    s.recordHealth(healthSample('h1', T0, 0));
    s.recordHealth(healthSample('h1', T0 + 60_000, 40));
    s.recordHealth(healthSample('h2', T0 + 30_000));
    assert.deepEqual(s.listHealth().map((h) => [h.host, h.lost]), [['h1', 40], ['h2', 0], ['h1', 0]]);
    assert.deepEqual(s.listHealth({ host: ['h1'], since: new Date(T0 + 1) }).map((h) => h.lost), [40]);
    assert.deepEqual(s.listHealth({ host: ['h2'] })[0], healthSample('h2', T0 + 30_000));
  });

  test('prune --older-than removes whole detections and old health samples; the size cap removes the oldest until the file fits', () => {
    const s = store();
    for (let i = 0; i < 400; i++) s.record({ detection: detection({ id: `z${String(i)}`, atMs: T0 + i }), revision: 1, state: 'closed' });
    s.recordHealth(healthSample('h', Date.now() - 40 * 86_400_000));
    s.recordHealth(healthSample('h', Date.now()));
    // Every recorded time is "now": nothing is older than a minute ago.
    const none = s.prune({ olderThan: new Date(Date.now() - 60_000) });
    assert.deepEqual([none.detections, none.healthSamples], [0, 1]);
    const size = s.sizeBytes();
    assert.ok(size > 1_500_000, `400 detections take room (${String(size)} bytes)`);
    const cap = Math.floor(size / 3);
    const capped = s.prune({ maxBytes: cap });
    assert.ok(capped.bytesAfter <= cap, `${String(capped.bytesAfter)} <= ${String(cap)}`);
    assert.ok(capped.detections > 0 && capped.detections < 400, String(capped.detections));
    const left = s.list({ limit: 1000 }).items.map((i) => i.id);
    assert.equal(left.length, 400 - capped.detections);
    assert.equal(s.changesSince(0, 10_000).length, left.length, 'their revisions went with them');
    // The oldest went first (recorded in id order).
    assert.ok(left.includes('z399') && !left.includes('z0'));
    const all = s.prune({ olderThan: new Date(Date.now() + 60_000) });
    assert.equal(all.detections, left.length);
    assert.equal(s.list().items.length, 0);
  });

  test('an outbox holds the local revisions made after it was registered until the sink acknowledges them', () => {
    const s = store();
    s.record({ detection: detection({ id: 'before' }), revision: 1, state: 'open' });
    const box = s.outbox('nats://collector');
    assert.equal(box.count(), 0, 'what was there before is not sent');
    const r1 = s.record({ detection: detection({ id: 'o1' }), revision: 1, state: 'open' });
    s.record({ detection: detection({ id: 'remote' }), revision: 1, state: 'open', origin: 'host-b' });
    const r2 = s.record({ detection: detection({ id: 'o1' }), revision: 2, state: 'closed' });
    const r3 = s.record({ detection: detection({ id: 'o2' }), revision: 1, state: 'open' });
    assert.deepEqual(box.pending(10).map((r) => r.seq), [r1.seq, r2.seq, r3.seq], 'received revisions are never re-sent');
    box.acknowledge([r2.seq]);
    assert.deepEqual(box.pending(10).map((r) => r.seq), [r1.seq, r3.seq], 'acks out of order');
    box.acknowledge([r1.seq, r3.seq, r3.seq]);
    assert.equal(box.count(), 0);
    // Another connection sees the same outbox (the registration is in the file).
    const other = store().outbox('nats://collector');
    const r4 = s.record({ detection: detection({ id: 'o3' }), revision: 1, state: 'open' });
    assert.deepEqual(other.pending(10).map((r) => r.seq), [r4.seq]);
  });
});
