// The ptrace sensor: runs the command under strace and streams strace's output through a FIFO
// (never a growing file) into sensor events. strace is never killed: with --seccomp-bpf its
// tracees' syscalls would fail with ENOSYS, so the command must finish on its own.
// `StraceSensor` is this sensor behind the one Sensor interface (sensor.ts).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandName, type ProcessInfo } from '../../model/process-info.ts';
import { shellQuote } from '../../model/shell-quote.ts';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { visible } from '../../model/visible.ts';
import type { CommandOutcome, CommandSpec, Sensor, SensorDescription, SensorHealth, SensorObserver } from '../sensor.ts';
import { findSensorProgram } from '../executable-lookup.ts';
import { LineSplitter } from '../line-splitter.ts';
import { SensorUnavailableError } from '../sensor-errors.ts';
import { TRACED_SYSCALLS } from './strace-event-mapper.ts';
import { StraceEventStream, type StraceStreamStats } from './strace-event-stream.ts';
import { startFifoDrain } from './fifo-drain.ts';

export interface StraceInstallation {
  readonly path: string;
  readonly version: string;
  /** Whether --seccomp-bpf works here (only traced syscalls stop the tracee: far less overhead). */
  readonly seccompBpf: boolean;
  /**
   * Whether strace can print pids as Tripline sees them next to the ones a process in another
   * pid namespace uses (--pidns-translation, strace 5.9+): without it a fork inside a new pid
   * namespace names a child number that means nothing outside it.
   */
  readonly pidnsTranslation?: boolean;
}

/** strace 5.9 brought --pidns-translation. */
function hasPidnsTranslation(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 5 || (major === 5 && minor >= 9);
}

export interface StraceRunOptions {
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly strace: StraceInstallation;
  /** Receives events in causal order, synchronously as lines arrive. */
  readonly onEvents: (events: readonly SensorEvent[]) => void;
  /** Called once with the traced command's pid, as soon as strace reports it. */
  readonly onRoot?: (pid: number) => void;
}

export interface StraceRunResult {
  /** strace's own exit: it mirrors the command's (same code, or re-raises the same signal). */
  readonly tracerExitCode: number | null;
  readonly tracerSignal: NodeJS.Signals | null;
  readonly rootPid: number | undefined;
  readonly stats: StraceStreamStats & { readonly overlongLines: number };
  /** The first error the event consumer threw; reading went on so strace never blocked. */
  readonly consumerError: Error | undefined;
}

const MAX_LINE = 1 << 20;
const STRING_LIMIT = 4096;

const INSTALL_HINT = 'install it with: sudo apt-get install -y strace (Debian/Ubuntu), sudo dnf install strace, or sudo apk add strace';

/** Finds strace, checks that it can trace here, and whether --seccomp-bpf is available. */
export function probeStrace(env: NodeJS.ProcessEnv = process.env): StraceInstallation {
  // Never from PATH or the working directory: strace runs as root with the command (see findSensorProgram).
  const lookup = findSensorProgram('strace', { env, variable: 'TRIPLINE_STRACE' });
  if (!('path' in lookup)) throw new SensorUnavailableError(lookup.problem, INSTALL_HINT);
  const path = lookup.path;
  const v = spawnSync(path, ['-V'], { encoding: 'utf8' });
  if (v.error !== undefined || v.status !== 0) {
    throw new SensorUnavailableError(`cannot run ${path}: ${v.error?.message ?? v.stderr.trim()}`, INSTALL_HINT, { cause: v.error });
  }
  const version = /version\s+(\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
  // What the probe traces, by absolute path: strace would look a bare `true` up on PATH, as root.
  const probe = findSensorProgram('true');
  const target = 'path' in probe ? [probe.path] : [process.execPath, '-e', ''];
  const tryTrace = (extra: string[]) => spawnSync(path, ['-f', ...extra, '-qq', '-e', 'trace=execve', '-o', '/dev/null', '--', ...target], { encoding: 'utf8' });
  const seccomp = tryTrace(['--seccomp-bpf']);
  const pidnsTranslation = hasPidnsTranslation(version);
  if (seccomp.status === 0 && !/seccomp/i.test(seccomp.stderr)) return { path, version, seccompBpf: true, pidnsTranslation };
  const plain = tryTrace([]);
  if (plain.status !== 0) {
    throw new SensorUnavailableError(
      `strace cannot trace here: ${plain.stderr.trim() || `exit ${String(plain.status)}`}`,
      'ptrace is denied: in a container add CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE), or check kernel.yama.ptrace_scope (3 forbids ptrace)',
    );
  }
  return { path, version, seccompBpf: false, pidnsTranslation };
}

/** The strace command line for a command (exported for tests and for `replay` users recording their own logs). */
export function straceArguments(install: StraceInstallation, output: string, command: readonly string[]): string[] {
  return [
    '-f',
    ...(install.seccompBpf ? ['--seccomp-bpf'] : []),
    ...(install.pidnsTranslation === true ? ['--pidns-translation'] : []),
    '-yy', '-ttt', '-qq', '-s', String(STRING_LIMIT),
    '-e', `trace=${TRACED_SYSCALLS.map((s) => `?${s}`).join(',')}`,
    '-o', output,
    '--', ...command,
  ];
}

/**
 * Runs `command` under strace. Resolves when strace has exited and its output is fully read.
 * The command's stdin, stdout and stderr are tripline's own, untouched.
 */
export async function runUnderStrace(options: StraceRunOptions): Promise<StraceRunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-'));
  const fifo = join(dir, 'trace.fifo');
  try {
    const mkfifo = findSensorProgram('mkfifo');
    if (!('path' in mkfifo)) throw new Error(mkfifo.problem);
    execFileSync(mkfifo.path, ['-m', '600', fifo]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new SensorUnavailableError('cannot create a FIFO for strace output', 'mkfifo (coreutils) must be installed and the temp directory writable', { cause: error });
  }
  // Tripline's read end is open before strace exists. The drain helper below holds a read end
  // too, so strace's open() of the FIFO never waits for Tripline's: a quick command can be
  // traced to its end, and strace gone, before a reader opened later would even ask. Such a
  // reader, opened by name once strace had closed its end, waited for a writer that would never
  // come (tripline run hung, now and then, on a busy machine). Opened first, non-blocking (a
  // FIFO's read end opens at once), and read through libuv's pipe handle: end of file when the
  // last writer closes, data kept in the pipe until read whatever the order.
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new SensorUnavailableError('cannot open the FIFO for strace output', 'the temp directory must be readable by tripline', { cause: error });
  }
  const reader = new Socket({ fd, readable: true, writable: false });
  // If tripline is killed, a helper drains the FIFO, so strace neither floods the command's
  // stderr with "Broken pipe" nor has to die (see fifo-drain.ts).
  const drain = startFifoDrain(fifo);
  const stream = new StraceEventStream();
  const splitter = new LineSplitter(MAX_LINE);
  let rootAnnounced = false;
  let consumerError: Error | undefined;
  const deliver = (events: readonly SensorEvent[]): void => {
    try {
      if (!rootAnnounced && stream.root !== undefined) {
        rootAnnounced = true;
        options.onRoot?.(stream.root);
      }
      if (events.length > 0) options.onEvents(events);
    } catch (error) {
      // Keep draining the FIFO whatever happens: a stalled reader would stall the command.
      consumerError ??= error instanceof Error ? error : new Error(String(error));
    }
  };
  const onLine = (line: string): void => {
    deliver(stream.push(line));
  };

  const child = spawn(options.strace.path, straceArguments(options.strace, fifo, options.command), {
    cwd: options.cwd,
    env: options.env,
    stdio: 'inherit',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  let named = true;
  const drained = new Promise<void>((resolve, reject) => {
    reader.on('data', (chunk) => {
      // strace has its end open once it writes: the FIFO's name is no longer needed, and
      // removing it now leaves nothing behind even if tripline is killed.
      if (named) {
        named = false;
        rmSync(dir, { recursive: true, force: true });
      }
      splitter.push(chunk, onLine);
    });
    reader.once('end', resolve);
    reader.once('error', reject);
  });
  let status: { code: number | null; signal: NodeJS.Signals | null };
  try {
    status = await exited;
  } catch (error) {
    unblockReader(fifo);
    await drained.catch(() => undefined);
    drain.stop();
    rmSync(dir, { recursive: true, force: true });
    throw new SensorUnavailableError(`cannot start strace: ${(error as Error).message}`, INSTALL_HINT, { cause: error });
  }
  // strace may have died before opening the FIFO; make sure the reader is not left waiting.
  unblockReader(fifo);
  await drained;
  drain.stop();
  deliver(stream.end(splitter.end()));
  rmSync(dir, { recursive: true, force: true });
  return {
    tracerExitCode: status.code,
    tracerSignal: status.signal,
    rootPid: stream.root,
    stats: { ...stream.stats, overlongLines: splitter.dropped },
    consumerError,
  };
}

/** Opens and closes the FIFO's write end, which ends a reader still blocked in open(). */
function unblockReader(fifo: string): void {
  if (!existsSync(fifo)) return;
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: no reader waiting (it already has strace's end, or is gone): nothing to unblock.
  }
}

/**
 * The ptrace sensor behind the Sensor interface: nothing to attach before a command, one command
 * per run (strace starts it and follows every process it forks), and an outcome that checks the
 * command's end as the trace saw it against strace's own exit.
 */
export class StraceSensor implements Sensor {
  private last: StraceRunResult | undefined;
  private readonly offsetMs = Date.now() - performance.now();
  readonly drained = true;
  readonly fallbackReason = undefined;

  constructor(readonly install: StraceInstallation, private readonly observer: SensorObserver) {}

  describe(): SensorDescription {
    const v = this.install;
    return { kind: 'ptrace', name: 'strace', version: v.version, label: `strace ${v.version}${v.seccompBpf ? ' --seccomp-bpf' : ''}` };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** strace reports every traced call with its path, wherever it points: nothing to change. */
  watchRoots(): Promise<void> {
    return Promise.resolve();
  }

  /** strace reports every traced call with its path, wherever it points. */
  unobserved(): string[] {
    return [];
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  get consumerError(): Error | undefined {
    return this.last?.consumerError;
  }

  nowMs(): number {
    return this.offsetMs + performance.now();
  }

  health(): SensorHealth {
    const s = this.last?.stats;
    return {
      lines: s?.lines ?? 0, unparsed: s?.unparsed ?? 0, unparsedSamples: s?.unparsedSamples ?? [],
      lost: 0, late: 0, orphans: 0, maxLatenessMs: 0, holdMs: 0, pending: 0,
    };
  }

  timings(): { attachMs: undefined; detachMs: undefined } {
    return { attachMs: undefined, detachMs: undefined };
  }

  async runCommand(spec: CommandSpec): Promise<CommandOutcome> {
    const started = performance.now();
    const result = await runUnderStrace({
      command: spec.command, cwd: spec.cwd, env: spec.env, strace: this.install,
      onEvents: this.observer.onEvents,
      onRoot: spec.onStarted,
    });
    this.last = result;
    return { ...straceOutcome(result, spec.processes, this.install.seccompBpf), durationMs: performance.now() - started };
  }
}

/** The command's fate as the trace saw it, checked against strace's own exit. */
function straceOutcome(result: StraceRunResult, processes: CommandSpec['processes'], seccompBpf: boolean): Omit<CommandOutcome, 'durationMs'> {
  const root = result.rootPid === undefined ? undefined : processes.get(result.rootPid);
  const warnings: string[] = [];
  let exit: CommandOutcome['exit'];
  let exitText: string;
  let failed = false;
  if (root?.exitSignal !== undefined) {
    exit = { signal: root.exitSignal };
    exitText = `killed by ${root.exitSignal}`;
  } else if (root?.exitCode !== undefined) {
    exit = { code: root.exitCode };
    exitText = `exit ${root.exitCode}`;
  } else if (result.tracerSignal !== null) {
    exit = undefined;
    failed = true;
    exitText = `strace killed by ${result.tracerSignal}`;
  } else {
    exit = result.tracerExitCode === null ? undefined : { code: result.tracerExitCode };
    exitText = result.tracerExitCode === null ? 'exit unknown' : `exit ${result.tracerExitCode}`;
    if (result.rootPid === undefined) warnings.push('strace reported nothing: the command may not have started (see strace\'s message above)');
  }
  // strace re-raises the command's own signal; any other signal means strace itself was killed.
  if (result.tracerSignal !== null && root?.exitSignal !== result.tracerSignal) {
    const left = processes.livePids();
    if (left.length > 0 || root === undefined) {
      failed = true;
      warnings.push(tracerDeath(result.tracerSignal, left.map((pid) => processes.get(pid)), seccompBpf));
    }
  }
  if (result.stats.overlongLines > 0) warnings.push(`${result.stats.overlongLines} trace line(s) longer than 1 MiB were skipped`);
  if (result.consumerError !== undefined) warnings.push(`internal error while analysing the trace (detections made before it are kept): ${result.consumerError.stack ?? result.consumerError.message}`);
  return { exit, exitText, failed, warnings };
}

/** How many of the processes left behind by a dead strace are named. */
const MAX_LEFT_NAMED = 10;

/**
 * What a dead strace did to the command: which traced processes were still running (per the
 * trace; "still alive" when /proc still has them), and what that means for them. Under
 * --seccomp-bpf a traced call with no tracer attached is not run and fails with ENOSYS.
 */
function tracerDeath(signal: NodeJS.Signals, left: readonly (ProcessInfo | undefined)[], seccompBpf: boolean): string {
  const named = left.slice(0, MAX_LEFT_NAMED).flatMap((p) => {
    if (p === undefined) return [];
    const command = visible(shellQuote(p.argv.length > 0 ? p.argv : [p.exe ?? commandName(p)]));
    const alive = existsSync(`/proc/${String(p.pid)}`) ? ', still alive' : '';
    return [`pid ${String(p.pid)} (${command.length > 80 ? `${command.slice(0, 77)}...` : command}${alive})`];
  });
  const more = left.length > named.length ? ` and ${String(left.length - named.length)} more` : '';
  const who = left.length === 0 ? 'before the command was seen to start or end' : `while ${String(left.length)} traced process(es) were still running: ${named.join(', ')}${more}`;
  const effect = seccompBpf
    ? 'under --seccomp-bpf, every system call Tripline traces (opening, stat-ing, listing and reading links of files, execve, fork/clone, chdir, setuid, mount, exit_group) now fails for them with ENOSYS instead of running, so they may fail (a shell says "Cannot fork", files seem missing) or behave as they would not have without Tripline'
    : 'they run on untraced';
  const they = left.length === 0 ? 'the command did' : 'they did';
  return `the tracer (strace) died with ${signal} ${who}. Nothing ${they} after that was observed; ${effect}`;
}
