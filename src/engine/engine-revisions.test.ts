// The revision stream: an open detection whose evidence grows is revised ('updated') at most once
// a second of event time, a change still pending goes out with the next event or tick once due,
// a repeated read of a known file is not news, and 'closed' always comes last with the final
// evidence. Times are the events' own (no clock).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SensorEvent } from '../model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { DetectionPipeline } from './detection-pipeline.ts';
import { UPDATE_INTERVAL_MS, type EngineOutput } from './engine.ts';

const T0 = 1_800_000_000_000;
const CORE = '/proc/sys/net/core/somaxconn';
const IPV4 = '/proc/sys/net/ipv4/ip_forward';
const UNIX = '/proc/sys/net/unix/max_dgram_qlen';
const IPV6 = '/proc/sys/net/ipv6/conf/all/disable_ipv6';

/** Each engine result with the event time (ms after T0) of the event or tick that produced it. */
interface Timed {
  readonly atMs: number;
  readonly out: EngineOutput;
}

class World {
  readonly pipeline = new DetectionPipeline({
    recipes: BUILTIN_RECIPES, sessionId: 's', initialCwd: '/work', initialUid: 1000, fileCapacity: 512,
    context: { environment: { kind: 'ci', source: 'test' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'test', version: null } },
  });
  readonly results: Timed[] = [];

  private push(e: SensorEvent): this {
    for (const out of this.pipeline.push(e)) this.results.push({ atMs: e.timeMs - T0, out });
    return this;
  }
  exec(tid: number, t: number, ...argv: string[]): this {
    return this.push({ kind: 'exec', timeMs: T0 + t, tid, path: `/usr/bin/${argv[0] ?? 'x'}`, argv, argvTruncated: false });
  }
  touch(tid: number, t: number, path: string, action: 'read' | 'write' = 'read'): this {
    return this.push({ kind: 'access', timeMs: T0 + t, tid, syscall: 'openat', action, path });
  }
  exit(tid: number, t: number): this {
    return this.push({ kind: 'exit', timeMs: T0 + t, tid, exitCode: 0 });
  }
  tick(t: number): this {
    for (const out of this.pipeline.engine.tick(T0 + t)) this.results.push({ atMs: t, out });
    return this;
  }
  due(t: number): EngineOutput[] {
    const out = this.pipeline.engine.dueUpdates(T0 + t);
    for (const o of out) this.results.push({ atMs: t, out: o });
    return out;
  }
  flush(): this {
    for (const out of this.pipeline.flush()) this.results.push({ atMs: Infinity, out });
    return this;
  }
  get types(): string[] {
    return this.results.map((r) => r.out.type);
  }
  of(type: EngineOutput['type']): Timed[] {
    return this.results.filter((r) => r.out.type === type);
  }
}

/** sysctl -a's first burst: three directories open the detection at t=3. */
function opened(): World {
  return new World().exec(1, 0, 'sysctl', '-a').touch(1, 1, CORE).touch(1, 2, IPV4).touch(1, 3, UNIX);
}

describe('revisions of a growing detection', () => {
  test('open (revision 1), a change within the second waits, the next event after it carries it (revision 2), close last (revision 3)', () => {
    const w = opened();
    assert.deepEqual(w.types, ['opened']);
    const open = w.results[0]?.out.detection;
    assert.equal(open?.revision, 1);
    assert.equal(open.state, 'open');
    assert.equal(open.evidence.directoryCount, 3);
    w.touch(1, 100, IPV6);
    assert.deepEqual(w.types, ['opened'], 'not within a second of the open');
    w.touch(1, 3 + UPDATE_INTERVAL_MS, '/proc/sys/net/ipv4/conf/all/rp_filter');
    assert.deepEqual(w.types, ['opened', 'updated']);
    const updated = w.of('updated')[0]?.out.detection;
    assert.equal(updated?.id, open.id);
    assert.equal(updated.revision, 2);
    assert.equal(updated.state, 'updated');
    assert.equal(updated.evidence.directoryCount, 5, 'both later directories are in it');
    w.exit(1, 1100).flush();
    assert.deepEqual(w.types, ['opened', 'updated', 'closed']);
    const closed = w.of('closed')[0]?.out.detection;
    assert.equal(closed?.id, open.id);
    assert.equal(closed.revision, 3);
    assert.equal(closed.state, 'closed');
    assert.equal(closed.evidence.directoryCount, 5);
  });

  test('a change still pending is revised by tick() once a second has passed since the last revision, not before', () => {
    const w = opened().touch(1, 200, IPV6);
    w.tick(3 + UPDATE_INTERVAL_MS - 1);
    assert.deepEqual(w.types, ['opened']);
    w.tick(3 + UPDATE_INTERVAL_MS);
    assert.deepEqual(w.types, ['opened', 'updated']);
    assert.equal(w.of('updated')[0]?.out.detection.evidence.directoryCount, 4);
    // Nothing new since: later ticks revise nothing more.
    w.tick(10 * UPDATE_INTERVAL_MS);
    assert.deepEqual(w.types, ['opened', 'updated']);
  });

  test('a burst of new files over 5 s is revised at most once per second of event time, revisions increasing', () => {
    const w = opened();
    for (let i = 0; i < 100; i++) w.touch(1, 10 + i * 50, `/proc/sys/net/ipv4/conf/eth${String(i)}/forwarding`);
    w.exit(1, 5100).flush();
    const updates = w.of('updated');
    assert.ok(updates.length >= 4 && updates.length <= 5, `${String(updates.length)} updates`);
    const times = [0, ...updates.map((u) => u.atMs)];
    for (let i = 1; i < times.length; i++) assert.ok((times[i] ?? 0) - (times[i - 1] ?? 0) >= UPDATE_INTERVAL_MS - 3, `revision ${String(i + 1)} ${String(times[i])} ms`);
    const revisions = w.results.map((r) => r.out.detection.revision);
    assert.deepEqual(revisions, revisions.map((_, i) => i + 1));
    assert.equal(w.types.at(-1), 'closed');
    assert.equal(w.of('closed')[0]?.out.detection.evidence.directoryCount, 103);
  });

  test('reading known files again is not news: no revision, however long the detection stays open', () => {
    const w = opened();
    for (let t = 500; t < 20_000; t += 500) w.touch(1, t, CORE).touch(1, t + 1, IPV4);
    w.tick(30_000);
    assert.deepEqual(w.types, ['opened']);
    w.exit(1, 30_001).flush();
    assert.deepEqual(w.types, ['opened', 'closed']);
    assert.equal(w.of('closed')[0]?.out.detection.revision, 2);
    assert.ok((w.of('closed')[0]?.out.detection.evidence.accessCount ?? 0) > 40, 'the final evidence still counts every access');
  });

  test('a write of a file only read so far is news (the configuration-change flag)', () => {
    const w = opened().touch(1, 2000, CORE, 'write');
    assert.deepEqual(w.types, ['opened', 'updated']);
    assert.equal(w.of('updated')[0]?.out.detection.evidence.configurationChanged, true);
  });

  test('a change pending at the close goes out with the close, never as a revision after it', () => {
    const w = opened().touch(1, 10, IPV6).flush();
    assert.deepEqual(w.types, ['opened', 'closed']);
    assert.equal(w.of('closed')[0]?.out.detection.revision, 2);
    assert.equal(w.of('closed')[0]?.out.detection.evidence.directoryCount, 4);
    w.tick(60_000);
    assert.deepEqual(w.types, ['opened', 'closed']);
  });

  test('dueUpdates() revises what is due and lets no other time pass: an ended subject is not closed by it', () => {
    const w = opened().touch(1, 10, IPV6).exit(1, 20);
    const due = w.due(10 * 60_000);
    assert.deepEqual(due.map((o) => o.type), ['updated']);
    assert.deepEqual(w.types, ['opened', 'updated']);
    w.tick(10 * 60_000);
    assert.deepEqual(w.types, ['opened', 'updated', 'closed'], 'tick() does close it');
    assert.equal(w.of('closed')[0]?.out.detection.revision, 3);
  });
});
