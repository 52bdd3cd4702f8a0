// Memory of a long-running `watch`: a DetectionSession set up as watch sets it up (idle live
// detections closed, JSONL and JUnit outputs, final detections not kept), driven in-process
// by synthetic sensor events: many distinct short-lived processes, each reading files in 3
// directories under /proc/sys/net (one detection each). Prints RSS and the heap after a full
// GC at intervals. `BENCH_ONLY=memory npm run bench`; BENCH_MEMORY_PROCESSES (100,000) and
// BENCH_MEMORY_READS (97 reads per process: 100 events with fork, exec and exit) scale it.

import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DetectionSession, type CliIo } from '../src/cli/detection-session.ts';
import type { OutputsConfig } from '../src/config/tripline-config.ts';
import type { SensorEvent } from '../src/model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../src/recipes/builtin-recipes.ts';

const T0 = 1_800_000_000_000;
const DIRS = ['core', 'ipv4', 'unix'] as const;
/** Event time between two processes: detections close 60 s (the process window) after their process ends. */
const GAP_MS = 10;

function discard(): NodeJS.WriteStream {
  const sink = new Writable({ write: (_chunk, _encoding, done) => { done(); } });
  return Object.assign(sink, { columns: 100, isTTY: false }) as unknown as NodeJS.WriteStream;
}

function sourced<T>(value: T): { value: T; source: string } {
  return { value, source: 'bench' };
}

/** One short-lived reader: forked by the shell (pid 500), exec'd, `reads` reads spread over 3 directories, exit. */
function processEvents(i: number, reads: number): SensorEvent[] {
  const pid = 10_000 + i;
  const t = T0 + i * GAP_MS;
  const events: SensorEvent[] = [
    { kind: 'fork', timeMs: t, parentTid: 500, childTid: pid, thread: false, sharesFs: false },
    { kind: 'exec', timeMs: t, tid: pid, path: '/usr/bin/netprobe', argv: ['netprobe', `--round=${String(i)}`], argvTruncated: false },
  ];
  for (let k = 0; k < reads; k++) {
    const dir = DIRS[k % DIRS.length] ?? 'core';
    events.push({ kind: 'access', timeMs: t + 1 + k / reads, tid: pid, syscall: 'openat', action: 'read', path: `/proc/sys/net/${dir}/setting_${String(k)}` });
  }
  events.push({ kind: 'exit', timeMs: t + 2, tid: pid, exitCode: 0 });
  return events;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1).padStart(8);
}

export async function benchMemory(): Promise<void> {
  const processes = Number(process.env.BENCH_MEMORY_PROCESSES ?? 100_000);
  const reads = Number(process.env.BENCH_MEMORY_READS ?? 97);
  // A full collection before each figure, so the heap column shows what is retained.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  const io: CliIo = { stderr: discard(), env: {}, cwd: '/' };
  const outputs: OutputsConfig = {
    jsonl: sourced('/dev/null'), jsonlAppend: sourced(true), sarif: sourced(undefined), junit: sourced('/dev/null'),
    webhook: sourced(undefined), webhookSecret: sourced(undefined), github: sourced('off'),
  };
  const session = new DetectionSession({
    command: 'watch', environment: sourced('production'), recipes: BUILTIN_RECIPES, outputs, appendJsonl: true,
    notices: true, closeIdleLive: true, keepFinals: false, sensor: { name: 'bench', version: null },
  }, io);
  session.push([{ kind: 'exec', timeMs: T0 - 1, tid: 500, path: '/bin/sh', argv: ['sh', '-c', 'while :; do netprobe; done'], argvTruncated: false }]);
  console.log(`\n# memory of a watch session: ${String(processes)} short-lived processes, each reading ${String(reads)} files in 3 directories under /proc/sys/net`);
  console.log(`# (one detection each; ${String((processes * (reads + 3)) / 1e6)}M events), outputs JSONL and JUnit to /dev/null; ${gc === undefined ? 'no --expose-gc: heap not collected first' : 'heap measured after a full GC'}`);
  console.log('processes'.padStart(10), 'events'.padStart(12), 'detections'.padStart(11), 'rss MiB'.padStart(8), 'heap MiB'.padStart(8), 'heap total'.padStart(10), 'external'.padStart(8), 'sec'.padStart(6));
  const started = Date.now();
  let events = 0;
  const rows: { done: number; m: NodeJS.MemoryUsage }[] = [];
  const report = (done: number): void => {
    gc?.();
    const m = process.memoryUsage();
    rows.push({ done, m });
    console.log(String(done).padStart(10), String(events).padStart(12), String(session.detectionCount).padStart(11), mib(m.rss), mib(m.heapUsed), mib(m.heapTotal).padStart(10), mib(m.external), ((Date.now() - started) / 1000).toFixed(0).padStart(6));
  };
  const step = Math.max(1, Math.floor(processes / 10));
  report(0);
  for (let i = 0; i < processes; i++) {
    const batch = processEvents(i, reads);
    events += batch.length;
    session.push(batch);
    // The sensor hands over events in batches; between them the output queue is served.
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    if ((i + 1) % step === 0) report(i + 1);
  }
  session.tick(T0 + processes * GAP_MS + 120_000);
  await session.finish();
  report(processes);
  // Steady from two process windows on (the first fills up with open detections, the second closes them as it goes).
  const warm = Math.ceil((2 * 60_000) / GAP_MS);
  const after = rows.slice(0, -1).filter((r) => r.done >= warm).map((r) => r.m);
  const spread = (pick: (m: NodeJS.MemoryUsage) => number): string => {
    const values = after.map(pick);
    return `${mib(Math.min(...values)).trim()}-${mib(Math.max(...values)).trim()} MiB`;
  };
  console.log(`detections: ${String(session.detectionCount)}; kept by the session: ${String(session.finals.length)}; outputs that failed: ${String(session.outputLosses().length)}`);
  if (after.length > 1) {
    console.log(`from ${String(warm)} processes on (two 60 s windows of event time; the stop, which closes every open detection at once, left out): rss ${spread((m) => m.rss)}, heap ${spread((m) => m.heapUsed)}`);
  }
}
