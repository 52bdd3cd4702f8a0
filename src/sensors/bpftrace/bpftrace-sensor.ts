// The eBPF sensor: runs tripline.bt under Debian's bpftrace, waits for its READY line, and
// streams its lines into sensor events. Stopping it is harmless to every traced process.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { findSensorProgram } from '../executable-lookup.ts';
import { LineSplitter } from '../line-splitter.ts';
import type { ProcfsReader } from '../procfs-reader.ts';
import { SensorUnavailableError } from '../sensor-errors.ts';
import { BpfEventStream, type BpfStreamStats } from './bpftrace-event-stream.ts';
import type { Recipe } from '../../model/recipe.ts';

export interface BpftraceInstallation {
  readonly path: string;
  readonly version: string;
}

/** The program, found from src/ (tsx) and from dist/ alike: it is shipped in src/. */
export const PROGRAM_PATH = fileURLToPath(new URL('../../../src/sensors/bpftrace/tripline.bt', import.meta.url));

/** The trees tripline.bt's in-kernel filter lets through; accesses elsewhere never reach user space. */
export const EBPF_WATCHED_ROOTS: readonly string[] = ['/proc/sys/net'];

/** One line per recipe root the eBPF sensor cannot see (a user recipe watching another tree). */
export function unwatchedByEbpf(recipes: readonly Recipe[]): string[] {
  const out: string[] = [];
  for (const r of recipes) {
    for (const root of r.match.roots) {
      if (EBPF_WATCHED_ROOTS.some((w) => root === w || root.startsWith(`${w}/`))) continue;
      out.push(`recipe ${r.id} watches ${root}, which the eBPF sensor does not observe (its kernel filter passes only ${EBPF_WATCHED_ROOTS.join(', ')}); use the ptrace sensor (tripline run --sensor ptrace) for this recipe`);
    }
  }
  return out;
}

const INSTALL_HINT = 'install it with: sudo apt-get install -y bpftrace (Debian/Ubuntu), or use --sensor ptrace';
const TRACEFS = '/sys/kernel/tracing';
const READY_TIMEOUT_MS = 30_000;
const RELEASE_EVERY_MS = 25;

/** Finds bpftrace and checks the privileges and tracefs it needs; mounts tracefs when absent. */
export function probeBpftrace(env: NodeJS.ProcessEnv = process.env): BpftraceInstallation {
  // Never from PATH or the working directory: bpftrace runs as root (see findSensorProgram).
  const lookup = findSensorProgram('bpftrace', { env, variable: 'TRIPLINE_BPFTRACE' });
  if (!('path' in lookup)) throw new SensorUnavailableError(lookup.problem, INSTALL_HINT);
  if (process.getuid?.() !== 0) {
    throw new SensorUnavailableError('the eBPF sensor needs root (CAP_BPF and CAP_PERFMON)', 'run it with sudo, or use --sensor ptrace (no root needed)');
  }
  const v = spawnSync(lookup.path, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) throw new SensorUnavailableError(`cannot run ${lookup.path}: ${v.stderr.trim()}`, INSTALL_HINT);
  if (!existsSync(`${TRACEFS}/events`)) {
    const mount = findSensorProgram('mount');
    if (!('path' in mount)) throw new SensorUnavailableError(`tracefs is not mounted and cannot be: ${mount.problem}`, `mount it with: mount -t tracefs nodev ${TRACEFS}`);
    const m = spawnSync(mount.path, ['-t', 'tracefs', 'nodev', TRACEFS], { encoding: 'utf8' });
    if (m.status !== 0) {
      throw new SensorUnavailableError(`tracefs is not mounted and mounting it failed: ${m.stderr.trim()}`, `mount it with: mount -t tracefs nodev ${TRACEFS}`);
    }
  }
  return { path: lookup.path, version: /v?(\d+\.\d+(?:\.\d+)?)/.exec(v.stdout)?.[1] ?? 'unknown' };
}

export interface BpftraceSensorOptions {
  readonly install: BpftraceInstallation;
  readonly procfs: ProcfsReader;
  readonly onEvents: (events: readonly SensorEvent[]) => void;
  /** bpftrace ended without being asked to (its stderr tail says why). */
  readonly onDied?: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => void;
  /** Pass nothing on until `limitTo` names the command to watch (for `run`). */
  readonly commandOnly?: boolean;
}

export class BpftraceSensor {
  private child: ChildProcess | undefined;
  private stream: BpfEventStream;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stderrTail = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly options: BpftraceSensorOptions) {
    this.stream = this.newStream();
  }

  get stats(): BpfStreamStats {
    return this.stream.stats;
  }

  /** Processes of the monitored command not yet seen exiting. */
  monitoredPids(): number[] {
    return this.stream.monitoredPids();
  }

  /** Now, on the clock of the events (monotonic plus the offset taken at start). */
  nowMs(): number {
    return Number(process.hrtime.bigint() + this.offsetNs) / 1e6;
  }

  private readonly offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

  private newStream(): BpfEventStream {
    return new BpfEventStream({ procfs: this.options.procfs, offsetNs: this.offsetNs, commandOnly: this.options.commandOnly === true });
  }

  /** Watches only `pid` and its descendants from now on (for `run`). */
  limitTo(pid: number): void {
    this.stream.limitTo(pid);
  }

  /** Starts bpftrace and resolves once the program is attached (its READY line). */
  async start(): Promise<void> {
    this.stopping = false;
    this.stderrTail = '';
    const previous = this.stream;
    this.stream = this.newStream();
    this.stream.carryOver(previous);
    let attached = false;
    const child = spawn(this.options.install.path, ['-B', 'none', PROGRAM_PATH, String(process.pid), String(statSync('/proc').dev)], {
      env: { ...process.env, BPFTRACE_STRLEN: '52', BPFTRACE_PERF_RB_PAGES: '1024' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const splitter = new LineSplitter(1 << 16);
    let resolveReady: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      splitter.push(chunk, (line) => {
        this.stream.push(line);
        if (this.stream.isReady) resolveReady?.();
      });
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.deliver();
        if (this.timer !== undefined) clearInterval(this.timer);
        this.timer = undefined;
        // Before READY, start() itself reports the failure.
        if (!this.stopping && attached) this.options.onDied?.(code, signal, this.meaningfulStderr());
        resolve();
      });
    });
    const failed = this.exited.then(() => {
      throw new SensorUnavailableError(`bpftrace exited before attaching: ${this.meaningfulStderr() || 'no message'}`, INSTALL_HINT);
    });
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => {
        reject(new SensorUnavailableError(`bpftrace did not attach within ${READY_TIMEOUT_MS / 1000} s`, 'check dmesg and bpftrace\'s own message'));
      }, READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([ready, failed, timedOut]);
    } catch (error) {
      this.stopping = true;
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timeout);
    }
    attached = true;
    this.timer = setInterval(() => {
      this.deliver(process.hrtime.bigint());
    }, RELEASE_EVERY_MS);
  }

  /** Stops bpftrace (SIGINT) after letting late lines arrive, and delivers everything left. */
  async stop(graceMs = 150): Promise<void> {
    if (this.child === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, graceMs));
    this.stopping = true;
    this.child.kill('SIGINT');
    await this.exited;
    this.deliver();
    this.child = undefined;
  }

  /** The first error the event consumer threw (the sensor keeps running). */
  consumerError: Error | undefined;

  private deliver(nowNs?: bigint): void {
    try {
      const events = this.stream.release(nowNs);
      if (events.length > 0) this.options.onEvents(events);
    } catch (error) {
      this.consumerError ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  private meaningfulStderr(): string {
    return this.stderrTail
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('RLIMIT_MEMLOCK'))
      .join('\n')
      .trim();
  }
}
