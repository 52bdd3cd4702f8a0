// The fleet transport at scale (`BENCH_ONLY=fleet npm run bench`): simulated hosts publishing
// with the real NatsOutput (each from its own store's outbox) into Debian's nats-server, and one
// real `tripline serve --from` committing into its SQLite store, at rising offered rates.
// Measured per step: detections/s committed end to end, latency from the detection's time (when
// the host made it) to its commit in serve's store (p50, p99, of every revision), and at the end
// the store's size per 100,000 detections (two revisions each: opened and closed).
//
// The simulated hosts' stores are on /dev/shm: what is measured is the transport and the
// collector, not the hosts' disks (a host makes a detection now and then; docs/store.md has the
// cost of a host's own commit). The collector's store is on the disk of the temporary directory.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectionStore } from '../src/store/detection-store.ts';
import { openDetectionStore } from '../src/store/sqlite-detection-store.ts';
import { NATS_SERVER, NatsServer } from '../test/fleet/nats-server.ts';
import { SimulatedHost, testNatsConfig, typicalDetection } from '../test/fleet/simulated-host.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const HOSTS = Number(process.env.BENCH_FLEET_HOSTS ?? 50);
/** Offered detections per second, all hosts together. */
const RATES = (process.env.BENCH_FLEET_RATES ?? '100,250,500,1000,2000,4000').split(',').map(Number);
const STEP_MS = Number(process.env.BENCH_FLEET_STEP_MS ?? 10_000);
const TICK_MS = 100;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function startServe(url: string, storePath: string): Promise<{ stop: () => Promise<string> }> {
  openDetectionStore({ path: storePath, create: true }).close();
  const child = spawn(process.execPath, [join(ROOT, 'bin/tripline.js'), 'serve', '--port', '0', '--store', storePath, '--from', url],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' } });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      if (stderr.includes('collecting from NATS')) resolve();
    });
    child.once('exit', (code) => { reject(new Error(`serve exited (${String(code)}): ${stderr}`)); });
  });
  return {
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      return stderr;
    },
  };
}

/** Reads what serve committed since `afterSeq`: latencies (commit - detection time) and the newest seq. */
function collect(store: DetectionStore, afterSeq: number, latencies: number[]): { seq: number; count: number; lastCommitMs: number } {
  let seq = afterSeq;
  let count = 0;
  let lastCommitMs = 0;
  for (let batch = store.changesSince(seq, 10_000); batch.length > 0; batch = store.changesSince(seq, 10_000)) {
    for (const r of batch) {
      const committed = Date.parse(r.recordedAt);
      latencies.push(committed - Date.parse(r.detection.time));
      lastCommitMs = Math.max(lastCommitMs, committed);
      count++;
    }
    seq = batch.at(-1)?.seq ?? seq;
  }
  return { seq, count, lastCommitMs };
}

export async function benchFleet(): Promise<void> {
  console.log(`\n# fleet: ${String(HOSTS)} simulated hosts -> nats-server (JetStream, file storage) -> one tripline serve --from (SQLite)`);
  if (NATS_SERVER === undefined) {
    console.log('skipped: nats-server is not installed (apt-get install nats-server)');
    return;
  }
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const hostDir = mkdtempSync(join(shm, 'tripline-bench-hosts-'));
  const dir = mkdtempSync(join(tmpdir(), 'tripline-bench-fleet-'));
  const server = await NatsServer.start(join(dir, 'jetstream'));
  const serveStorePath = join(dir, 'serve.db');
  const serve = await startServe(server.url, serveStorePath);
  const config = testNatsConfig(server.url, { maxBytes: 8 * 1024 ** 3 });
  const template = typicalDetection();
  const hosts = Array.from({ length: HOSTS }, (_, i) => new SimulatedHost(`host-${String(i).padStart(4, '0')}`, hostDir, config, template));
  const store = openDetectionStore({ path: serveStorePath, create: false });
  console.log(`detection: ${String(JSON.stringify(template).length)} bytes of JSON (16 files listed); each makes 2 revisions (opened, closed), each one message`);
  console.log('offered det/s | made | committed det/s | revisions/s | latency p50 | p99 | max | drained after');
  let seq = 0;
  let total = 0;
  try {
    for (const rate of RATES) {
      const latencies: number[] = [];
      const perTick = (rate * TICK_MS) / 1000;
      let owed = 0;
      let made = 0;
      let next = 0;
      const start = Date.now();
      // The offered load: every tick, rate/10 detections spread over the hosts in turn.
      while (Date.now() - start < STEP_MS) {
        owed += perTick;
        const now = new Date();
        // Each host's share of the tick in one transaction, the hosts taking turns for the remainder.
        const due = Math.floor(owed);
        owed -= due;
        const share = new Map<SimulatedHost, number>();
        for (let k = 0; k < due; k++) {
          const host = hosts[next % hosts.length];
          next++;
          if (host !== undefined) share.set(host, (share.get(host) ?? 0) + 1);
        }
        for (const [host, count] of share) host.detectMany(count, now);
        made += due;
        const read = collect(store, seq, latencies);
        seq = read.seq;
        const wait = start + Math.ceil((Date.now() - start + 1) / TICK_MS) * TICK_MS - Date.now();
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      }
      const offeredEnd = Date.now();
      // Then until everything made is committed (or a minute passed: the collector fell behind for good).
      let lastCommitMs = 0;
      while (latencies.length < made * 2 && Date.now() - offeredEnd < 60_000) {
        const read = collect(store, seq, latencies);
        seq = read.seq;
        lastCommitMs = Math.max(lastCommitMs, read.lastCommitMs);
        if (latencies.length < made * 2) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      total += made;
      const sorted = latencies.sort((a, b) => a - b);
      const elapsed = Math.max(lastCommitMs, offeredEnd) - start;
      const committed = latencies.length / 2;
      console.log(`${String(rate).padStart(13)} | ${String(made).padStart(5)} | ${(committed / (elapsed / 1000)).toFixed(0).padStart(15)} | ${(latencies.length / (elapsed / 1000)).toFixed(0).padStart(11)} | ${String(percentile(sorted, 50)).padStart(8)} ms | ${String(percentile(sorted, 99)).padStart(5)} ms | ${String(sorted.at(-1) ?? NaN).padStart(5)} ms | ${String(Math.max(0, lastCommitMs - offeredEnd))} ms${latencies.length < made * 2 ? ` (${String(made * 2 - latencies.length)} revisions not committed after 60 s)` : ''}`);
    }
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
    const summary = await serve.stop();
    store.close();
    // Measured with every connection closed: SQLite has folded the WAL into the file (a reader polling all along holds it back).
    const closed = openDetectionStore({ path: serveStorePath, create: false });
    const detections = closed.stats().total;
    closed.close();
    const bytes = closed.sizeBytes();
    console.log(`serve's store: ${String(detections)} detections (${String(total)} made), ${(bytes / 1024 ** 2).toFixed(1)} MiB after checkpoint: ${(bytes / Math.max(detections, 1) * 100_000 / 1024 ** 2).toFixed(0)} MiB per 100,000 detections`);
    console.log(`serve: ${/collected .*/.exec(summary)?.[0] ?? summary.trim()}`);
    await server.stop();
    rmSync(hostDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
