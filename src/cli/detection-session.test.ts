// A daemon's session (watch) must not hold on to its detections: after many of them, the
// number of detection objects still reachable is bounded (counted with weak references after
// a full garbage collection; no timing, no RSS).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { OutputsConfig } from '../config/tripline-config.ts';
import type { Detection } from '../model/detection.ts';
import type { SensorEvent } from '../model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { DAEMON_SESSION, DetectionSession, type CliIo } from './detection-session.ts';

const T0 = 1_800_000_000_000;

function sourced<T>(value: T): { value: T; source: string } {
  return { value, source: 'test' };
}

function discard(): NodeJS.WriteStream {
  const sink = new Writable({ write: (_chunk, _encoding, done) => { done(); } });
  return Object.assign(sink, { columns: 100, isTTY: false }) as unknown as NodeJS.WriteStream;
}

/** A short-lived process reading 3 directories under /proc/sys/net: one detection. */
function reader(i: number): SensorEvent[] {
  const pid = 10_000 + i;
  const t = T0 + i * 10;
  return [
    { kind: 'fork', timeMs: t, parentTid: 500, childTid: pid, thread: false, sharesFs: false },
    { kind: 'exec', timeMs: t, tid: pid, path: '/usr/bin/netprobe', argv: ['netprobe', String(i)], argvTruncated: false },
    ...['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen', 'ipv6/conf/all/forwarding'].map((f, k): SensorEvent => (
      { kind: 'access', timeMs: t + 1 + k, tid: pid, syscall: 'openat', action: 'read', path: `/proc/sys/net/${f}` })),
    { kind: 'exit', timeMs: t + 6, tid: pid, exitCode: 0 },
  ];
}

void test('a daemon session (watch) keeps no final detection: after 300 detections, at most a few are still reachable', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = mkdtempSync(join(tmpdir(), 'tripline-session-'));
  try {
    const outputs: OutputsConfig = {
      jsonl: sourced(join(dir, 'd.jsonl')), jsonlAppend: sourced(true), sarif: sourced(undefined), junit: sourced(join(dir, 'd.xml')),
      webhook: sourced(undefined), webhookSecret: sourced(undefined), github: sourced('off'),
    };
    const io: CliIo = { stderr: discard(), env: {}, cwd: '/' };
    const reachable: WeakRef<Detection>[] = [];
    const session = new DetectionSession({
      command: 'watch', environment: sourced('production'), recipes: BUILTIN_RECIPES, outputs, ...DAEMON_SESSION, notices: true,
      sensor: { name: 'test', version: null },
      onClosed: (d) => { reachable.push(new WeakRef(d)); },
    }, io);
    session.push([{ kind: 'exec', timeMs: T0 - 1, tid: 500, path: '/bin/sh', argv: ['sh'], argvTruncated: false }]);
    const n = 300;
    for (let i = 0; i < n; i++) {
      session.push(reader(i));
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    // Every detection final (its process ended more than a window ago), and the outputs served.
    session.tick(T0 + n * 10 + 120_000);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(session.detectionCount, n);
    // The daemon writes every revision: each detection once closed, under its own id, after its open revision.
    const lines = readFileSync(join(dir, 'd.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Detection);
    const closed = lines.filter((d) => d.state === 'closed');
    assert.equal(closed.length, n, 'every one written');
    assert.equal(new Set(closed.map((d) => d.id)).size, n);
    assert.equal(lines.filter((d) => d.state === 'open').length, n);
    gc();
    const alive = reachable.filter((r) => r.deref() !== undefined).length;
    assert.ok(alive <= 5, `${String(alive)} of ${String(n)} final detections are still held by the session or its outputs`);
    await session.finish();
    assert.match(readFileSync(join(dir, 'd.xml'), 'utf8'), /<testsuite name="tripline" tests="300" failures="300"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
