// The eBPF sensor behind the Sensor interface: runs Tripline's compiled sensor (or tripline.bt
// under Debian's bpftrace), waits for its READY record, and streams its records into sensor
// events in causal order. Stopping it is harmless to every traced process.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { visible } from '../model/visible.ts';
import { findSensorProgram, notRootOnly } from './executable-lookup.ts';
import { RecordDecoder, RecordStreamError, RECORDS_VERSION, type RootsAnswer, type TierInfo } from './compiled/record-decoder.ts';
import { LineSplitter } from './line-splitter.ts';
import type { ProcfsReader } from './procfs-reader.ts';
import { SensorUnavailableError } from './sensor-errors.ts';
import { BpfEventStream, type BpfStreamOptions, type BpfStreamStats } from './bpftrace/bpftrace-event-stream.ts';
import type { Recipe } from '../model/recipe.ts';
import type { CommandOutcome, CommandSpec, Sensor, SensorDescription, SensorHealth, SensorObserver } from './sensor.ts';

export interface EbpfInstallation {
  readonly path: string;
  readonly version: string;
  /** Which eBPF program: Debian's bpftrace with tripline.bt (the default here), or Tripline's compiled sensor. */
  readonly program?: 'bpftrace' | 'compiled';
  /** Its name in messages and in the detections' sensor block. */
  readonly name?: string;
  /** For the compiled sensor chosen automatically: bpftrace, if the kernel refuses the compiled program. */
  readonly fallback?: () => EbpfInstallation;
}

/** The program's name in messages: "bpftrace" or "tripline-sensor". */
export function sensorName(install: EbpfInstallation): string {
  return install.name ?? 'bpftrace';
}

/** The compiled sensor shipped in the package (built by npm run build:sensor), for this machine's architecture. */
export const COMPILED_SENSOR_PATH = fileURLToPath(new URL(`../../sensor/${process.arch === 'x64' ? 'x86_64' : process.arch}/tripline-sensor`, import.meta.url));
const SOURCES_HASH_PATH = fileURLToPath(new URL('../../sensor/SOURCES.sha256', import.meta.url));

/**
 * Checks that the compiled sensor can be tried here: x86_64, root, a kernel with BTF, and a
 * binary nobody but root can replace. Whether the kernel accepts the program shows at start
 * (the loader then exits before READY; `fallback` says what to run instead).
 */
export function probeCompiledSensor(env: NodeJS.ProcessEnv = process.env): EbpfInstallation {
  if (process.arch !== 'x64') throw new SensorUnavailableError(`no compiled sensor for ${process.arch} (it is built for x86_64)`, 'bpftrace is used instead');
  if (process.getuid?.() !== 0) {
    throw new SensorUnavailableError('the eBPF sensor needs root (CAP_BPF and CAP_PERFMON)', 'run it with sudo, or use --sensor ptrace (no root needed)');
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) throw new SensorUnavailableError('this kernel has no BTF (/sys/kernel/btf/vmlinux), which the compiled sensor needs', 'bpftrace is used instead');
  const override = env.TRIPLINE_SENSOR_BINARY;
  const path = override !== undefined && override !== '' ? override : COMPILED_SENSOR_PATH;
  if (!path.startsWith('/')) throw new SensorUnavailableError(`TRIPLINE_SENSOR_BINARY=${path} is not an absolute path`, 'give the full path');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new SensorUnavailableError(`the compiled sensor ${path} is missing or not executable`, 'rebuild it with npm run build:sensor, or bpftrace is used');
  }
  const unsafe = notRootOnly(path);
  if (unsafe !== undefined) throw new SensorUnavailableError(`the compiled sensor ${path} is not safe to run as root: ${unsafe}`, 'reinstall Tripline as root');
  let version = 'unknown';
  try {
    version = `sources ${readFileSync(SOURCES_HASH_PATH, 'utf8').trim().slice(0, 12)}`;
  } catch {
    // A binary named by TRIPLINE_SENSOR_BINARY may come without the hash.
  }
  return { path, version, program: 'compiled', name: 'tripline-sensor' };
}

/**
 * The eBPF program to run: TRIPLINE_EBPF_PROGRAM=compiled|bpftrace|auto (auto by default: the
 * compiled sensor where it can run, bpftrace otherwise, and bpftrace again if the kernel
 * refuses the compiled program at start).
 */
export function probeEbpf(env: NodeJS.ProcessEnv = process.env): EbpfInstallation & { readonly why?: string } {
  const choice = env.TRIPLINE_EBPF_PROGRAM ?? 'auto';
  if (choice === 'bpftrace') return probeBpftrace(env);
  if (choice === 'compiled') return probeCompiledSensor(env);
  if (choice !== 'auto' && choice !== '') {
    throw new SensorUnavailableError(`TRIPLINE_EBPF_PROGRAM=${choice} is not one of compiled, bpftrace, auto`, 'unset it, or set one of those');
  }
  let compiled: EbpfInstallation;
  try {
    compiled = probeCompiledSensor(env);
  } catch (error) {
    if (!(error instanceof SensorUnavailableError)) throw error;
    return { ...probeBpftrace(env), why: `the compiled sensor cannot run here: ${error.message}` };
  }
  return { ...compiled, fallback: () => probeBpftrace(env) };
}

/** The program, found from src/ (tsx) and from dist/ alike: it is shipped in src/. */
export const PROGRAM_PATH = fileURLToPath(new URL('../../src/sensors/bpftrace/tripline.bt', import.meta.url));

/** The trees tripline.bt's in-kernel filter lets through; accesses elsewhere never reach user space. */
export const EBPF_WATCHED_ROOTS: readonly string[] = ['/proc/sys/net'];
/** The compiled sensor filters on this many other roots, each shorter than this many bytes (tripline-records.h). */
const MAX_KERNEL_ROOTS = 8;
const KERNEL_ROOT_BYTES = 127;

function coveredByProc(root: string): boolean {
  return EBPF_WATCHED_ROOTS.some((w) => root === w || root.startsWith(`${w}/`));
}

/**
 * The recipes' roots the compiled sensor is given to filter on in the kernel (besides
 * /proc/sys/net): absolute, deduplicated, a root under another dropped, at most 8.
 */
export function kernelRoots(recipes: readonly Recipe[]): string[] {
  // A root with a tab or a line break could not be passed to the loader's stdin: watched by ptrace only.
  const all = [...new Set(recipes.flatMap((r) => r.match.roots))].filter((root) => root.startsWith('/') && !/[\t\n\0]/.test(root) && !coveredByProc(root)).sort();
  const kept = all.filter((root) => !all.some((other) => other !== root && (other === '/' || root.startsWith(`${other}/`))));
  return kept.filter((root) => Buffer.byteLength(root) <= KERNEL_ROOT_BYTES).slice(0, MAX_KERNEL_ROOTS);
}

/** One line per recipe root the running eBPF program cannot see (`given`: the roots the compiled sensor filters on). */
export function unwatchedByEbpf(recipes: readonly Recipe[], install?: EbpfInstallation, given: readonly string[] = []): string[] {
  const compiled = install?.program === 'compiled';
  const out: string[] = [];
  for (const r of recipes) {
    for (const root of r.match.roots) {
      if (coveredByProc(root)) continue;
      if (compiled && given.some((g) => root === g || root.startsWith(`${g}/`) || g === '/')) continue;
      out.push(compiled
        ? `recipe ${r.id} watches ${root}, which the compiled eBPF sensor is not filtering on (it takes ${String(MAX_KERNEL_ROOTS)} roots of up to ${String(KERNEL_ROOT_BYTES)} bytes, without tabs or line breaks); use --sensor ptrace for this recipe`
        : `recipe ${r.id} watches ${root}, which bpftrace's program does not observe (its kernel filter passes only ${EBPF_WATCHED_ROOTS.join(', ')}); use the compiled sensor or the ptrace sensor (tripline run --sensor ptrace) for this recipe`);
    }
  }
  return out;
}

const INSTALL_HINT = 'install it with: sudo apt-get install -y bpftrace (Debian/Ubuntu), or use --sensor ptrace';
const TRACEFS = '/sys/kernel/tracing';
/** bpftrace compiles the program with LLVM first: 2 s idle, over 30 s measured beside two test suites and a busy loop per core. */
const READY_TIMEOUT_MS = 90_000;
const RELEASE_EVERY_MS = 25;
/** How long the compiled sensor may take to put new roots in force. */
const ROOTS_ANSWER_MS = 10_000;
/** The compiled sensor's hold floor (see newStream). */
const COMPILED_HOLD_NS = 20_000_000n;

/** Finds bpftrace and checks the privileges and tracefs it needs; mounts tracefs when absent. */
export function probeBpftrace(env: NodeJS.ProcessEnv = process.env): EbpfInstallation {
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
  return { path: lookup.path, version: /v?(\d+\.\d+(?:\.\d+)?)/.exec(v.stdout)?.[1] ?? 'unknown', program: 'bpftrace', name: 'bpftrace' };
}

export interface EbpfSensorOptions {
  readonly install: EbpfInstallation;
  readonly procfs: ProcfsReader;
  /** Pass nothing on until `limitTo` names the command to watch (for `run`); the kernel then sends only tripline's descendants. */
  readonly commandOnly?: boolean;
  /** Other trees the compiled sensor filters on in the kernel (kernelRoots of the recipes); bpftrace's program sees /proc/sys/net only. */
  readonly roots?: readonly string[];
  /** Told each process's cgroup v2 id as the kernel gave it (see BpfStreamOptions.cgroup), for its container. */
  readonly cgroup?: BpfStreamOptions['cgroup'];
}

/** At least this much longer than the stream's hold time, so a late FORK line still counts before `run` ends. */
const QUIET_AFTER_EXIT_MS = 150;

/** The access tripline.bt recognises as tripline's barrier (see its SYNC line). */
const SYNC_PATH = '/proc/sys/net/.tripline-sync';
/** How long stop() waits for bpftrace to catch up before it gives up (and says so). */
const DRAIN_TIMEOUT_MS = 15_000;

export class EbpfSensor implements Sensor {
  private child: ChildProcess | undefined;
  private stream: BpfEventStream;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stderrTail = '';
  private closed: Promise<void> = Promise.resolve();
  /** Whether the last stop() saw everything up to its start (false: it gave up waiting). */
  drained = true;

  /** The program running (or to run): the compiled sensor, or bpftrace after a fallback. */
  install: EbpfInstallation;
  /** Why the compiled sensor was given up for bpftrace, if it was. */
  fallbackReason: string | undefined;

  /** Why the program ended on its own while observing (undefined while it runs, or when stopped). */
  private diedReason: string | undefined;
  /** The recipe roots the compiled sensor filters on (given at start, changed by watchRoots). */
  private roots: readonly string[];
  /** Who waits for the loader's answer to new roots, in the order they were sent. */
  private rootsWaiters: ((answer: RootsAnswer | undefined) => void)[] = [];

  constructor(readonly options: EbpfSensorOptions, private readonly observer: SensorObserver) {
    this.install = options.install;
    this.roots = options.roots ?? [];
    this.stream = this.newStream();
  }

  /** The compiled sensor's tier (its TIER record at start): which programs write the records, and why not the security hooks. */
  tier: TierInfo | undefined;

  describe(): SensorDescription {
    const name = sensorName(this.install);
    const tier = this.install.program === 'compiled' && this.tier !== undefined ? `, tier ${this.tier.tier} (security hooks ${this.tier.hooks})` : '';
    return {
      kind: 'ebpf', name, version: this.install.version, label: `eBPF, ${name} ${this.install.version}${tier}`,
      ...(this.install.program === 'compiled' && this.tier !== undefined ? { tier: `${this.tier.tier}: ${visible(this.tier.reason)}` } : {}),
    };
  }

  get stats(): BpfStreamStats {
    return this.stream.stats;
  }

  health(): SensorHealth {
    const s = this.stream.stats;
    return {
      lines: s.lines, lost: s.lost, late: s.late, orphans: s.orphans, unparsed: s.unparsed, unparsedSamples: s.unparsedSamples, maxLatenessMs: s.maxLatenessMs,
      holdMs: Number(this.stream.holdNs) / 1e6, pending: this.stream.pendingCount,
    };
  }

  /**
   * Filters on these recipe roots from now on (a reload changed the recipes). The compiled sensor
   * takes them while it runs and answers once they are in force; bpftrace's program sees
   * /proc/sys/net only, and unobserved() says so. Rejects when the loader refused them.
   */
  async watchRoots(roots: readonly string[]): Promise<void> {
    this.roots = [...roots];
    const child = this.child;
    if (this.install.program !== 'compiled' || child?.stdin == null || child.exitCode !== null || child.signalCode !== null) return;
    const stdin = child.stdin;
    const answer = new Promise<RootsAnswer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        resolve(undefined);
      }, ROOTS_ANSWER_MS);
      this.rootsWaiters.push((a) => {
        clearTimeout(timer);
        resolve(a);
      });
      child.once('close', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    stdin.write(`ROOTS${roots.map((r) => `\t${r}`).join('')}\n`);
    const got = await answer;
    if (got === undefined) throw new Error(`${sensorName(this.install)} did not confirm the new recipe roots within ${String(ROOTS_ANSWER_MS / 1000)} s`);
    if (got.error !== 0) throw new Error(`${sensorName(this.install)} refused the new recipe roots (errno ${String(got.error)}); it filters on ${String(got.count)} root(s)`);
  }

  unobserved(recipes: readonly Recipe[]): string[] {
    return unwatchedByEbpf(recipes, this.install, this.roots);
  }

  /** The hold in force (ms): how long lines wait for other CPUs' earlier lines. */
  holdMs(): number {
    return Number(this.stream.holdNs) / 1e6;
  }

  /** Now, on the clock of the events (monotonic plus the offset taken at start). */
  nowMs(): number {
    return Number(process.hrtime.bigint() + this.offsetNs) / 1e6;
  }

  /** A monotonic time (ns) on the events' clock, as ms. */
  toMs(ns: bigint): number {
    return Number(ns + this.offsetNs) / 1e6;
  }

  private readonly offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

  private newStream(): BpfEventStream {
    const commandOnly = this.options.commandOnly === true;
    // The compiled sensor's one ring buffer hands records over in the order they were reserved,
    // microseconds apart at worst: a short hold (which still grows if lateness is seen). bpftrace's
    // per-CPU buffers trail each other by up to seconds under load.
    const holdNs = this.install.program === 'compiled' ? COMPILED_HOLD_NS : undefined;
    return new BpfEventStream({
      procfs: this.options.procfs, offsetNs: this.offsetNs, commandOnly, kernelFiltered: commandOnly, ...(holdNs === undefined ? {} : { holdNs }),
      ...(this.options.cgroup === undefined ? {} : { cgroup: this.options.cgroup }),
    });
  }

  /** Watches only `pid` and its descendants from now on (for `run`). */
  private limitTo(pid: number): void {
    this.stream.limitTo(pid);
  }

  /**
   * Starts the program and resolves once it is attached (its READY record). A compiled sensor
   * the kernel refuses gives way to bpftrace when the installation names a fallback.
   */
  async start(): Promise<void> {
    const started = performance.now();
    try {
      await this.startProgram();
    } catch (error) {
      const fallback = this.install.fallback;
      if (!(error instanceof SensorUnavailableError) || fallback === undefined) throw error;
      this.fallbackReason = error.message;
      try {
        this.install = fallback();
      } catch (fallbackError) {
        if (!(fallbackError instanceof SensorUnavailableError)) throw fallbackError;
        // Neither program can run: both reasons, the compiled sensor's first.
        throw new SensorUnavailableError(`${error.message}; and bpftrace, the fallback, cannot run: ${fallbackError.message}`, fallbackError.hint);
      }
      await this.startProgram();
    } finally {
      this.lastTimings.attachMs = performance.now() - started;
    }
  }

  private readonly lastTimings: { attachMs: number | undefined; detachMs: number | undefined } = { attachMs: undefined, detachMs: undefined };

  timings(): { readonly attachMs: number | undefined; readonly detachMs: number | undefined } {
    return { ...this.lastTimings };
  }

  private async startProgram(): Promise<void> {
    this.stopping = false;
    this.diedReason = undefined;
    this.tier = undefined;
    this.stderrTail = '';
    const previous = this.stream;
    // Everything the previous program delivered is applied before the new one starts.
    this.deliverFrom(previous);
    const stream = this.newStream();
    stream.carryOver(previous);
    this.stream = stream;
    let attached = false;
    // For run, the kernel keeps to tripline's own descendants (the command): other processes'
    // events never fill the buffers, and membership is decided at fork, in the kernel's order.
    const treeRoot = this.options.commandOnly === true ? process.pid : 0;
    const compiled = this.install.program === 'compiled';
    const name = sensorName(this.install);
    const params = [String(process.pid), String(statSync('/proc').dev), String(treeRoot)];
    const child = compiled
      // stdin takes new roots while it runs (watchRoots).
      ? spawn(this.install.path, [...params, ...this.roots], { env: {}, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(this.install.path, ['-B', 'none', PROGRAM_PATH, ...params], {
        env: { ...process.env, BPFTRACE_STRLEN: '52', BPFTRACE_PERF_RB_PAGES: '1024', BPFTRACE_MAP_KEYS_MAX: '65536' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    this.child = child;
    let resolveReady: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    const afterRecord = (): void => {
      if (stream.isReady && resolveReady !== undefined) {
        resolveReady();
        resolveReady = undefined;
        // Every probe is attached now: the SYNC this asks for dates the start of the watching.
        this.barrier();
      }
    };
    // Records go to the stream of this program, even if they are read after a restart began.
    if (compiled) {
      const decoder = new RecordDecoder();
      decoder.onRoots = (answer) => {
        this.rootsWaiters.shift()?.(answer);
      };
      // A loader that ends while roots are being set leaves nobody to answer.
      child.stdin?.on('error', () => undefined);
      child.stdout.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk, (record) => {
            if (record.type === 'ready' && decoder.ready?.version !== RECORDS_VERSION) {
              throw new RecordStreamError(`the sensor binary writes records of version ${String(decoder.ready?.version)}, this Tripline reads version ${String(RECORDS_VERSION)}`);
            }
            // The loader says which tier writes the records before READY.
            if (record.type === 'ready') this.tier = decoder.tier;
            stream.pushRecord(record);
            afterRecord();
          });
        } catch (error) {
          // A stream out of step cannot be read past this point: the sensor is stopped and its gap reported.
          this.stderrTail += `\nunreadable record stream: ${(error as Error).message}`;
          child.kill('SIGKILL');
        }
      });
    } else {
      const splitter = new LineSplitter(1 << 16);
      child.stdout.on('data', (chunk: Buffer) => {
        splitter.push(chunk, (line) => {
          stream.push(line);
          afterRecord();
        });
      });
    }
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    // 'close' comes after stdout has been read to its end: nothing the program printed is left behind.
    this.closed = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        this.deliverFrom(stream);
        if (this.timer !== undefined) clearInterval(this.timer);
        this.timer = undefined;
        // Before READY, start() itself reports the failure.
        if (!this.stopping && attached) {
          const newest = stream.newestNs;
          const stderr = this.meaningfulStderr();
          this.diedReason = `${name} ended (${signal ?? `exit ${String(code)}`})${stderr === '' ? '' : `: ${visible(stderr)}`}`;
          this.observer.onDied?.(this.diedReason, newest === undefined ? this.nowMs() : this.toMs(newest));
        }
        resolve();
      });
    });
    const failed = this.closed.then(() => {
      throw new SensorUnavailableError(`${name} exited before attaching: ${this.meaningfulStderr() || 'no message'}`, compiled ? 'bpftrace or --sensor ptrace can be used instead' : INSTALL_HINT);
    });
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => {
        reject(new SensorUnavailableError(`${name} did not attach within ${READY_TIMEOUT_MS / 1000} s`, `check dmesg and ${name}'s own message`));
      }, READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([ready, failed, timedOut]);
    } catch (error) {
      this.stopping = true;
      child.kill('SIGKILL');
      await this.closed;
      throw error;
    } finally {
      clearTimeout(timeout);
    }
    attached = true;
    this.timer = setInterval(() => {
      this.deliverFrom(stream, process.hrtime.bigint());
    }, RELEASE_EVERY_MS);
  }

  /**
   * Waits until bpftrace has delivered everything that happened before this call (its SYNC
   * line for tripline's own barrier, then the hold for other CPUs' buffers), then stops it
   * (SIGINT, harmless to every traced process) and delivers everything left. `drained` says
   * whether the wait succeeded within DRAIN_TIMEOUT_MS.
   */
  async stop(): Promise<void> {
    return this.stopAfter(false);
  }

  /** `settled`: a barrier just came back with nothing left to watch, so stopping needs no other. */
  private async stopAfter(settled: boolean): Promise<void> {
    if (this.child === undefined) return;
    const child = this.child;
    const started = performance.now();
    // A program that already died (watch between restarts) has nothing left to catch up on: its
    // gap is reported.
    const running = child.exitCode === null && child.signalCode === null;
    this.drained = running && !settled ? await this.drain() : true;
    this.stopping = true;
    child.kill('SIGINT');
    await this.closed;
    this.child = undefined;
    this.lastTimings.detachMs = performance.now() - started;
  }

  /**
   * Runs the command with the kernel limited to tripline's descendants (see `commandOnly`) and
   * the stream to the command's tree, and waits, like strace -f, until everything it started
   * has ended and the sensor has delivered it. A sensor that dies meanwhile ends the wait: the
   * command goes on unobserved, and the outcome says so.
   */
  async runCommand(spec: CommandSpec): Promise<CommandOutcome> {
    const [file = '', ...args] = spec.command;
    const started = performance.now();
    let ended: number | undefined;
    const child = spawn(file, args, { cwd: spec.cwd, env: spec.env, stdio: 'inherit' });
    const rootPid = child.pid;
    if (rootPid !== undefined) {
      this.limitTo(rootPid);
      spec.onStarted(rootPid);
    }
    let status: { code: number | null; signal: NodeJS.Signals | null };
    /** The last barrier came back with nothing of the command left: stopping needs no other. */
    let settled = false;
    try {
      status = await new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          resolve({ code, signal });
        });
      });
      // A child's FORK can take up to the hold time to be released, so "nothing left" must last
      // that long; /proc says who is really still there, so a lost EXIT cannot hang the run.
      let quietSince: number | undefined;
      const anyAlive = (): boolean => this.stream.monitoredPids().some((pid) => existsSync(`/proc/${pid}`));
      // The compiled sensor's records come in order: its barrier alone says every fork before it is known.
      const quietMs = (): number => (this.ordered ? 0 : this.holdMs() + QUIET_AFTER_EXIT_MS);
      while (this.diedReason === undefined) {
        if (anyAlive()) quietSince = undefined;
        else quietSince ??= performance.now();
        if (quietSince !== undefined && performance.now() - quietSince >= quietMs()) {
          // A background child whose FORK was later than the hold is known only once the sensor
          // has caught up: ask, and go on waiting if one turns out to be alive.
          const caughtUp = await this.drain();
          if (!anyAlive()) {
            settled = caughtUp;
            // Everything ended before the barrier was asked for.
            ended = quietSince;
            break;
          }
          quietSince = undefined;
        }
        await new Promise((resolve) => setTimeout(resolve, this.ordered ? 10 : 50));
      }
    } finally {
      ended ??= performance.now();
      await this.stopAfter(settled);
    }
    const name = sensorName(this.install);
    const warnings: string[] = [];
    const died = this.diedReason;
    if (died !== undefined) warnings.push(`${died} while the command ran; what ran after that was not observed`);
    const h = this.health();
    if (h.lost > 0) warnings.push(`${name} lost ${h.lost} event(s): its buffers overflowed, some accesses were not seen`);
    if (h.orphans > 0) warnings.push(`${h.orphans} process(es) came without their fork line (lost or too late): their place in the process tree is taken from /proc or their exec`);
    if (!this.drained && died === undefined) {
      warnings.push(`${name} did not catch up before it was stopped: the command's last events may be missing`);
      const now = this.nowMs();
      this.observer.onEvents([{ kind: 'sensor-loss', timeMs: now, lost: 0, gap: { startMs: now, endMs: now } }]);
    }
    if (this.consumerError !== undefined) warnings.push(`internal error while analysing events (detections made before it are kept): ${this.consumerError.stack ?? this.consumerError.message}`);
    return {
      exit: status.signal !== null ? { signal: status.signal } : status.code === null ? undefined : { code: status.code },
      exitText: status.signal !== null ? `killed by ${status.signal}` : `exit ${String(status.code)}`,
      failed: died !== undefined,
      durationMs: ended - started,
      warnings,
    };
  }

  /** Whether the program delivers its records in the order they happened (one ring buffer): then nothing arrives later than a barrier. */
  get ordered(): boolean {
    return this.install.program === 'compiled';
  }

  /** tripline's own barrier: tripline.bt answers this access with a SYNC line. */
  private barrier(): void {
    try {
      accessSync(SYNC_PATH);
    } catch {
      // ENOENT is the expected answer: the call itself is the barrier.
    }
  }

  private async drain(): Promise<boolean> {
    const child = this.child;
    const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
    if (!running()) return false;
    const asked = process.hrtime.bigint();
    this.barrier();
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while ((this.stream.syncNs ?? 0n) < asked) {
      if (Date.now() > deadline || !running()) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Other CPUs' buffers trail by at most the lateness seen: wait that long past the barrier
    // (the compiled sensor's one ordered buffer needs no wait), then hand over everything up to
    // the barrier now, not at the next periodic release.
    const barrierNs = this.stream.syncNs;
    const until = process.hrtime.bigint() + (this.ordered ? 0n : this.stream.holdNs);
    while (process.hrtime.bigint() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    this.deliverFrom(this.stream, process.hrtime.bigint(), barrierNs);
    return true;
  }

  /** The first error the event consumer threw (the sensor keeps running). */
  consumerError: Error | undefined;

  private deliverFrom(stream: BpfEventStream, nowNs?: bigint, throughNs?: bigint): void {
    try {
      const events = stream.release(nowNs, throughNs);
      if (events.length > 0) this.observer.onEvents(events);
    } catch (error) {
      this.consumerError ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  private meaningfulStderr(): string {
    return this.stderrTail
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('RLIMIT_MEMLOCK') && !l.startsWith('Attaching ') && !l.startsWith(';') && !/^\d+: \(/.test(l))
      .join('\n')
      .trim();
  }
}
