// Latency of a detection under `tripline watch` (root, the compiled eBPF sensor): from the read
// that crossed the threshold to the JSON line in the --jsonl file, to the webhook's delivery,
// and to the live notice on stderr. One watch runs for all trials, as a daemon does. Each trial
// is a new process (a small C program compiled here) that reads one file in each of two
// directories of /proc/sys/net, takes CLOCK_REALTIME, reads a file in a third directory (the
// read that crosses the threshold) and prints the time it took. The JSONL file is watched with
// inotify (fs.watch) and timestamped when the line of that process appears; a local HTTP
// receiver timestamps the request's arrival; stderr is timestamped as it is read. p50 and p99
// (nearest rank) over BENCH_LATENCY_TRIALS trials (40). `BENCH_ONLY=latency npm run bench`.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, watch, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TRIPLINE } from './timing.ts';

const TRIALS = Number(process.env.BENCH_LATENCY_TRIALS ?? 40);
/** A trial whose three arrivals have not all come by then is counted as missing. */
const TRIAL_TIMEOUT_MS = 15_000;
const GOAL_P99_MS = 500;

/** Reads a file in each of two directories, takes the time, reads one in a third, prints that time. */
const READER_C = `
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static void read_one(const char *path) {
  char buf[64];
  int fd = open(path, O_RDONLY);
  if (fd >= 0) { (void)read(fd, buf, sizeof buf); close(fd); }
}
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  read_one(argv[1]);
  read_one(argv[2]);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  read_one(argv[3]);
  printf("%lld.%09ld\\n", (long long)ts.tv_sec, ts.tv_nsec);
  return 0;
}
`;
const FILES = ['/proc/sys/net/core/somaxconn', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/unix/max_dgram_qlen'];

/** The wall clock in ms with sub-millisecond resolution (CLOCK_REALTIME's epoch). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Arrival times (ms) by pid, with waiters. */
class Arrivals {
  private readonly times = new Map<number, number>();
  private readonly waiters = new Map<number, () => void>();

  note(pid: number, atMs: number): void {
    if (this.times.has(pid)) return;
    this.times.set(pid, atMs);
    this.waiters.get(pid)?.();
  }

  wait(pid: number, until: Promise<void>): Promise<number | undefined> {
    const known = this.times.get(pid);
    if (known !== undefined) return Promise.resolve(known);
    return Promise.race([
      new Promise<number>((resolve) => { this.waiters.set(pid, () => { resolve(this.times.get(pid) ?? NaN); }); }),
      until.then(() => undefined),
    ]);
  }
}

interface Detected { readonly state?: string; readonly subject: { readonly process: { readonly pid: number } } }

export async function benchDetectionLatency(): Promise<void> {
  const sensor = join(new URL('..', import.meta.url).pathname, 'sensor/x86_64/tripline-sensor');
  if (process.getuid?.() !== 0 || !existsSync(sensor) || spawnSync('cc', ['--version']).status !== 0) {
    console.log('\n# detection latency under watch: skipped (needs root, the compiled sensor and a C compiler)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tripline-latency-'));
  const reader = join(dir, 'reader');
  writeFileSync(join(dir, 'reader.c'), READER_C);
  const cc = spawnSync('cc', ['-O2', '-o', reader, join(dir, 'reader.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
  const jsonl = join(dir, 'watch.jsonl');
  writeFileSync(jsonl, '', { mode: 0o600 });

  const jsonlAt = new Arrivals();
  const webhookAt = new Arrivals();
  const noticeAt = new Arrivals();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = nowMs();
      const d = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Detected;
      if (d.state === 'open') webhookAt.note(d.subject.process.pid, at);
      res.end();
    });
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/hook`;

  // The JSONL file, followed with inotify: each line timestamped when the change that brought it is seen.
  const fd = openSync(jsonl, 'r');
  let offset = 0;
  let partial = '';
  const follow = (): void => {
    const at = nowMs();
    const buf = Buffer.alloc(1 << 20);
    for (let n = readSync(fd, buf, 0, buf.length, offset); n > 0; n = readSync(fd, buf, 0, buf.length, offset)) {
      offset += n;
      partial += buf.subarray(0, n).toString('utf8');
    }
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const d = JSON.parse(line) as Detected;
      if (d.state === 'open') jsonlAt.note(d.subject.process.pid, at);
    }
  };
  const watcher = watch(jsonl, follow);

  const child = spawn('node', [TRIPLINE, 'watch', '--quiet', '--jsonl', jsonl, '--output', `webhook=${url}`, '--health-interval', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRIPLINE_EBPF_PROGRAM: 'compiled' },
  });
  let err = '';
  const watching = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      const at = nowMs();
      const text = chunk.toString('utf8');
      err += text;
      for (const m of text.matchAll(/— pid (\d+) /g)) noticeAt.note(Number(m[1]), at);
      if (err.includes('tripline: watching')) resolve();
    });
    child.once('exit', () => { reject(new Error(`watch ended: ${err}`)); });
  });
  const results: { jsonl: number[]; webhook: number[]; notice: number[]; missing: number } = { jsonl: [], webhook: [], notice: [], missing: 0 };
  try {
    await watching;
    for (let i = 0; i < TRIALS; i++) {
      const r = spawnSync(reader, FILES, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`reader failed: ${String(r.status)} ${r.stderr}`);
      const readMs = Number(r.stdout.trim()) * 1000;
      const timeout = new Promise<void>((resolve) => { setTimeout(resolve, TRIAL_TIMEOUT_MS).unref(); });
      const [j, w, n] = await Promise.all([jsonlAt.wait(r.pid, timeout), webhookAt.wait(r.pid, timeout), noticeAt.wait(r.pid, timeout)]);
      if (j === undefined || w === undefined || n === undefined) results.missing++;
      if (j !== undefined) results.jsonl.push(j - readMs);
      if (w !== undefined) results.webhook.push(w - readMs);
      if (n !== undefined) results.notice.push(n - readMs);
    }
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
    watcher.close();
    closeSync(fd);
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n# detection latency under tripline watch (compiled eBPF sensor): from the read that crossed the threshold`);
  console.log(`# (CLOCK_REALTIME taken just before it) to the open revision's arrival; ${String(TRIALS)} trials, one new process each`);
  console.log('arrival'.padEnd(28), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'min ms'.padStart(8), 'max ms'.padStart(8), 'n'.padStart(4));
  for (const [name, values] of [['JSONL line (inotify)', results.jsonl], ['webhook POST received', results.webhook], ['live notice on stderr', results.notice]] as const) {
    console.log(name.padEnd(28), percentile(values, 50).toFixed(1).padStart(8), percentile(values, 99).toFixed(1).padStart(8),
      Math.min(...values).toFixed(1).padStart(8), Math.max(...values).toFixed(1).padStart(8), String(values.length).padStart(4));
  }
  const worst = Math.max(percentile(results.jsonl, 99), percentile(results.webhook, 99));
  console.log(`goal p99 <= ${String(GOAL_P99_MS)} ms: ${worst <= GOAL_P99_MS && results.missing === 0 ? 'met' : 'NOT met'}${results.missing > 0 ? ` (${String(results.missing)} trial(s) missing an arrival within ${String(TRIAL_TIMEOUT_MS)} ms)` : ''}`);
}
