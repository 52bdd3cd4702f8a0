// The fleet transport at scale (`BENCH_ONLY=fleet npm run bench`): simulated hosts publishing
// into Debian's nats-server (JetStream, file storage) and one real `tripline serve --from`
// committing into its SQLite store, at rising offered rates. Measured per step: detections/s
// committed end to end, latency from the detection's time (when the host made it) to its commit
// in serve's store (p50, p99 of every revision), and at the end the store's size per 100,000
// detections (two revisions each: opened and closed).
//
// Each simulated host is one NATS connection publishing exactly what the NATS output publishes
// (subject tripline.detections.<host>, message id <id>:<revision>, the detection with its
// revision and state as body, each publish acknowledged), without a store of its own: a host
// makes a detection now and then, so its own commit (docs/store.md) is not what bounds a fleet,
// and 50 stores in the bench's process would measure the bench. The output's own path, store
// outbox included, is what test/fleet/ runs.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectionStore } from '../src/store/detection-store.ts';
import { openDetectionStore } from '../src/store/sqlite-detection-store.ts';
import { NATS_SERVER, NatsServer } from '../test/fleet/nats-server.ts';
import { testNatsConfig, typicalDetection } from '../test/fleet/simulated-host.ts';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ensureStream, hostSubject } from '../src/fleet/nats-connection.ts';
import type { Detection } from '../src/model/detection.ts';

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

/** CPU seconds (user + system) a process used so far, from /proc/PID/stat. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function startServe(url: string, storePath: string): Promise<{ pid: number | undefined; stop: () => Promise<string> }> {
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
    pid: child.pid,
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

/** One simulated host: its connection, and the publishes not acknowledged yet. */
class PublishingHost {
  private made = 0;
  readonly inFlight = new Set<Promise<unknown>>();
  failures = 0;

  private constructor(readonly name: string, readonly nc: NatsConnection, private readonly js: JetStreamClient, private readonly template: Detection) {}

  static async open(name: string, url: string, template: Detection): Promise<PublishingHost> {
    const nc = await connect({ servers: url.replace('nats://', ''), name });
    return new PublishingHost(name, nc, jetstream(nc), template);
  }

  /** Publishes `count` detections made now: the opened revision, then the closed one. */
  detect(count: number, time: Date): void {
    for (let k = 0; k < count; k++) {
      this.made++;
      const d = { ...this.template, id: `${this.name}-${String(this.made)}`, time: time.toISOString(), host: { ...this.template.host, hostname: this.name } };
      for (const [revision, state] of [[1, 'open'], [2, 'closed']] as const) {
        const p = this.js.publish(hostSubject(this.name), JSON.stringify({ ...d, revision, state }), { msgID: `${d.id}:${String(revision)}`, timeout: 30_000 })
          .catch(() => { this.failures++; })
          .finally(() => { this.inFlight.delete(p); });
        this.inFlight.add(p);
      }
    }
  }
}

export async function benchFleet(): Promise<void> {
  console.log(`\n# fleet: ${String(HOSTS)} simulated hosts -> nats-server (JetStream, file storage) -> one tripline serve --from (SQLite)`);
  if (NATS_SERVER === undefined) {
    console.log('skipped: nats-server is not installed (apt-get install nats-server)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tripline-bench-fleet-'));
  const server = await NatsServer.start(join(dir, 'jetstream'));
  const config = testNatsConfig(server.url, { maxBytes: 8 * 1024 ** 3 });
  const admin = await connect({ servers: server.url.replace('nats://', '') });
  await ensureStream(admin, config);
  await admin.close();
  const serveStorePath = join(dir, 'serve.db');
  const serve = await startServe(server.url, serveStorePath);
  const template = typicalDetection();
  const hosts = await Promise.all(Array.from({ length: HOSTS }, (_, i) => PublishingHost.open(`host-${String(i).padStart(4, '0')}`, server.url, template)));
  const store = openDetectionStore({ path: serveStorePath, create: false });
  console.log(`detection: ${String(JSON.stringify(template).length)} bytes of JSON (16 files listed); each makes 2 revisions (opened, closed), each one message; machine: ${String(cpus().length)} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start`);
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
        const due = Math.floor(owed);
        owed -= due;
        for (let k = 0; k < due; k++) {
          hosts[next % hosts.length]?.detect(1, now);
          next++;
        }
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
    await Promise.all(hosts.map(async (h) => {
      await Promise.allSettled([...h.inFlight]);
      await h.nc.close();
    }));
    const failures = hosts.reduce((n, h) => n + h.failures, 0);
    const serveCpu = cpuSeconds(serve.pid);
    const natsCpu = cpuSeconds(server.pid);
    const summary = await serve.stop();
    store.close();
    // Measured with every connection closed: SQLite has folded the WAL into the file (a reader polling all along holds it back).
    const closed = openDetectionStore({ path: serveStorePath, create: false });
    const detections = closed.stats().total;
    closed.close();
    const bytes = closed.sizeBytes();
    console.log(`serve's store: ${String(detections)} detections (${String(total)} made, ${String(failures)} publishes failed), ${(bytes / 1024 ** 2).toFixed(1)} MiB after checkpoint: ${(bytes / Math.max(detections, 1) * 100_000 / 1024 ** 2).toFixed(0)} MiB per 100,000 detections`);
    console.log(`serve: ${/collected .*/.exec(summary)?.[0] ?? summary.trim()}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`CPU used: serve --from ${serveCpu.toFixed(1)} s (${(serveCpu * 1000 / Math.max(detections, 1)).toFixed(2)} ms per detection, ${(serveCpu * 1000 / Math.max(detections * 2, 1)).toFixed(2)} ms per revision), nats-server ${natsCpu.toFixed(1)} s (${(natsCpu * 1000 / Math.max(detections, 1)).toFixed(2)} ms per detection)`);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
