// `tripline run`: runs a command under a sensor (ptrace via strace, or eBPF: the compiled sensor or bpftrace),
// forwards signals to it, reports what it did, and decides the exit code.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadTriplineConfig, type FailOn, type OutputsConfig, type SensorChoice, type Sourced } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import { importanceRank } from '../model/importance.ts';
import type { EngineTrace } from '../engine/engine.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import type { ProcessInfo } from '../model/process-info.ts';
import type { Recipe } from '../model/recipe.ts';
import { visible } from '../outputs/terminal-text.ts';
import { formatQuietSummary, formatReport } from '../outputs/text-report.ts';
import { EbpfSensor, kernelRoots, probeEbpf, sensorName, unwatchedByEbpf, type EbpfInstallation } from '../sensors/ebpf-sensor.ts';
import { lookUpExecutable } from '../sensors/executable-lookup.ts';
import { LIVE_PROCFS } from '../sensors/procfs-reader.ts';
import { SensorUnavailableError } from '../sensors/sensor-errors.ts';
import { probeStrace, runUnderStrace, type StraceInstallation } from '../sensors/strace/strace-sensor.ts';
import { DetectionSession, type CliIo } from './detection-session.ts';
import { EXIT, signalExitCode } from './exit-codes.ts';
import { RUN_HELP } from './help-text.ts';
import { parseRunOptions } from './run-options.ts';

export type RunIo = CliIo;

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
/** At least this much longer than the eBPF stream's hold time, so a late FORK line still counts. */
const QUIET_AFTER_EXIT_MS = 150;

/** What a run does, once flags, TRIPLINE_* variables and the configuration file are resolved. */
export interface RunPlan {
  readonly command: readonly string[];
  readonly quiet: boolean;
  readonly failOn: FailOn;
  readonly sensor: SensorChoice;
  readonly outputs: OutputsConfig | undefined;
  readonly environment: Sourced<EnvironmentKind | undefined>;
  readonly recipes: readonly Recipe[];
  /** Told every decision of the engine (`recipes explain`). */
  readonly trace?: (step: EngineTrace) => void;
  /** Called once every detection is final, before the report. */
  readonly onFinished?: (session: DetectionSession) => void;
}

export async function runCommand(args: readonly string[], io: RunIo): Promise<number> {
  const options = parseRunOptions(args);
  if (options.help) {
    io.stderr.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  const config = loadTriplineConfig(options, io.env, io.cwd);
  // A broken recipe file is skipped (never the built-ins), and said loudly.
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  return traceCommand({
    command: options.command, quiet: options.quiet, failOn: config.failOn.value, sensor: config.sensor.value,
    outputs: config.outputs, environment: config.environment, recipes: config.recipes,
  }, io);
}

type ChosenSensor = { readonly kind: 'ptrace'; readonly strace: StraceInstallation } | { readonly kind: 'ebpf'; readonly bpftrace: EbpfInstallation };

/** --sensor auto: eBPF when privileged and the compiled sensor or bpftrace can run, else ptrace. */
function chooseSensor(options: RunPlan, io: RunIo): { sensor: ChosenSensor; why: string | undefined } {
  if (options.sensor === 'ptrace') return { sensor: { kind: 'ptrace', strace: probeStrace(io.env) }, why: undefined };
  if (options.sensor === 'ebpf') {
    const bpftrace = probeEbpf(io.env);
    return { sensor: { kind: 'ebpf', bpftrace }, why: bpftrace.why === undefined ? undefined : `ebpf (${sensorName(bpftrace)} ${bpftrace.version}; ${bpftrace.why})` };
  }
  try {
    const bpftrace = probeEbpf(io.env);
    return { sensor: { kind: 'ebpf', bpftrace }, why: `ebpf (${sensorName(bpftrace)} ${bpftrace.version}; ${bpftrace.why ?? 'root and an eBPF program are available'})` };
  } catch (error) {
    if (!(error instanceof SensorUnavailableError)) throw error;
    const strace = probeStrace(io.env);
    return { sensor: { kind: 'ptrace', strace }, why: `ptrace (strace ${strace.version}; eBPF not available: ${error.message})` };
  }
}

interface SensorOutcome {
  readonly exitCode: number;
  readonly exitText: string;
  readonly warnings: string[];
  readonly lines: number;
  readonly unparsed: number;
  readonly unparsedSamples: readonly { line: number; reason: string; text: string }[];
}

export async function traceCommand(options: RunPlan, io: RunIo): Promise<number> {
  const { sensor, why } = chooseSensor(options, io);
  const program = options.command[0] ?? '';
  const lookup = lookUpExecutable(program, io.env, io.cwd);
  if (!('found' in lookup)) {
    // As a shell would: 127 for a command that is not there, 126 for one that cannot be run.
    const missing = 'missing' in lookup;
    io.stderr.write(`tripline: ${visible(program)}: ${missing ? 'command not found' : 'permission denied (not an executable file)'}\n`);
    return missing ? EXIT.commandNotFound : EXIT.commandNotExecutable;
  }
  // The eBPF program may change at start (a compiled sensor the kernel refuses gives way to
  // bpftrace): detections name the one that ran.
  const ebpf = { install: sensor.kind === 'ebpf' ? sensor.bpftrace : undefined };
  const sensorInfo = sensor.kind === 'ptrace'
    ? { name: 'strace', version: sensor.strace.version }
    : {
      get name(): string { return ebpf.install === undefined ? 'ebpf' : sensorName(ebpf.install); },
      get version(): string | null { return ebpf.install?.version ?? null; },
    };
  const session = new DetectionSession({
    command: 'run', environment: options.environment, recipes: options.recipes, outputs: options.outputs, notices: !options.quiet, sensor: sensorInfo,
    ...(options.trace === undefined ? {} : { trace: options.trace }),
  }, io);
  if (why !== undefined && !options.quiet) session.say(`tripline: sensor: ${visible(why)}`);

  const startedMs = Date.now();
  const signals = new SignalForwarder();
  signals.everyone = () => session.pipeline.normalizer.processes.livePids();
  try {
    const outcome = sensor.kind === 'ptrace'
      ? await runPtrace(options, io, session, sensor.strace, signals)
      : await runEbpf(options, io, session, ebpf, signals);
    await session.finish();
    options.onFinished?.(session);
    return report(options, session, outcome, sensor, `${sensorInfo.name} ${sensorInfo.version ?? ''}`.trim(), startedMs, io);
  } finally {
    signals.detach();
  }
}

function report(options: RunPlan, session: DetectionSession, outcome: SensorOutcome, sensor: ChosenSensor, ebpfLabel: string, startedMs: number, io: RunIo): number {
  const finals = session.finals;
  const warnings = [...outcome.warnings, ...session.outputFailures];
  const unresolvable = session.pipeline.normalizer.stats.unresolvable;
  if (unresolvable > 0) warnings.push(`${unresolvable} access(es) relative to a directory fd of unknown path could not be resolved`);

  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  if (options.quiet) {
    // "tripline: 3 detection(s); 1 incomplete (sensor lost events); WARNINGS" (the sensor's own loss is among the warnings).
    const line = formatQuietSummary(finals, warnings);
    if (line !== undefined) session.say(line);
  } else {
    const sensorText = sensor.kind === 'ptrace'
      ? `strace ${sensor.strace.version}${sensor.strace.seccompBpf ? ' --seccomp-bpf' : ''}`
      : `eBPF, ${ebpfLabel}`;
    session.say(formatReport(finals, {
      command: options.command, exit: outcome.exitText, durationMs: Date.now() - startedMs, sensor: sensorText,
      lines: outcome.lines, unparsed: outcome.unparsed, unparsedSamples: outcome.unparsedSamples, warnings,
      // Ends the report with the loss: incomplete detections, and what the sensor lost in the whole run.
      sensorLost: session.pipeline.engine.loss.totalLost,
    }, session.palette, width));
  }
  for (const line of session.policyNotes()) session.say(`tripline: ${line}`);
  if (options.failOn !== 'never') {
    const level = importanceRank(options.failOn);
    if (finals.some((d) => importanceRank(d.recipe.importance) >= level)) {
      session.say(`tripline: failing: detections at or above "${options.failOn}" (--fail-on); the command itself ended with ${outcome.exitText}`);
      return EXIT.policy;
    }
  }
  return outcome.exitCode;
}

/**
 * Forwards tripline's signals to the command, from before the sensor starts until the report
 * is written (so no signal can kill tripline with detections unwritten). A second signal goes
 * to every process still watched. SIGINT and SIGQUIT typed at a terminal already reached the
 * command (it is in tripline's foreground process group), so those are not sent twice.
 */
class SignalForwarder {
  target: number | undefined;
  everyone: () => readonly number[] = () => [];
  private pending: NodeJS.Signals | undefined;
  private received = 0;
  private readonly handler = (signal: NodeJS.Signals): void => {
    this.received++;
    if ((signal === 'SIGINT' || signal === 'SIGQUIT') && inForegroundOfTerminal()) return;
    if (this.target === undefined) this.pending = signal;
    else this.send(this.received > 1 ? this.everyone() : [this.target], signal);
  };

  constructor() {
    for (const s of FORWARDED_SIGNALS) process.on(s, this.handler);
  }

  /** The command is known: a signal that came before is delivered now. */
  setTarget(pid: number): void {
    this.target = pid;
    if (this.pending !== undefined) this.send([pid], this.pending);
    this.pending = undefined;
  }

  detach(): void {
    for (const s of FORWARDED_SIGNALS) process.off(s, this.handler);
  }

  private send(pids: readonly number[], signal: NodeJS.Signals): void {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }
}

/** Whether tripline is in the foreground process group of its terminal (then the terminal's signals reach the whole group). */
function inForegroundOfTerminal(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && pgrp === tpgid;
  } catch {
    return false;
  }
}

async function runPtrace(options: RunPlan, io: RunIo, session: DetectionSession, strace: StraceInstallation, signals: SignalForwarder): Promise<SensorOutcome> {
  const processes = session.pipeline.normalizer.processes;
  const result = await runUnderStrace({
    command: options.command,
    cwd: io.cwd,
    env: io.env,
    strace,
    onEvents: (events) => {
      session.push(events);
    },
    onRoot: (pid) => {
      signals.setTarget(pid);
    },
  });
  // The command's fate as the trace saw it, checked against strace's own exit.
  const root = result.rootPid === undefined ? undefined : processes.get(result.rootPid);
  const warnings: string[] = [];
  let exitCode: number;
  let exitText: string;
  if (root?.exitSignal !== undefined) {
    exitCode = signalExitCode(root.exitSignal);
    exitText = `killed by ${root.exitSignal}`;
  } else if (root?.exitCode !== undefined) {
    exitCode = root.exitCode;
    exitText = `exit ${root.exitCode}`;
  } else if (result.tracerSignal !== null) {
    exitCode = EXIT.sensor;
    exitText = `strace killed by ${result.tracerSignal}`;
  } else {
    exitCode = result.tracerExitCode ?? EXIT.sensor;
    exitText = `exit ${exitCode}`;
    if (result.rootPid === undefined) warnings.push('strace reported nothing: the command may not have started (see strace\'s message above)');
  }
  // strace re-raises the command's own signal; any other signal means strace itself was killed.
  if (result.tracerSignal !== null && root?.exitSignal !== result.tracerSignal) {
    const left = processes.livePids();
    if (left.length > 0 || root === undefined) {
      exitCode = EXIT.sensor;
      warnings.push(tracerDeath(result.tracerSignal, left.map((pid) => processes.get(pid)), strace.seccompBpf));
    }
  }
  if (result.stats.overlongLines > 0) warnings.push(`${result.stats.overlongLines} trace line(s) longer than 1 MiB were skipped`);
  if (result.consumerError !== undefined) warnings.push(`internal error while analysing the trace (detections made before it are kept): ${result.consumerError.stack ?? result.consumerError.message}`);
  return {
    exitCode, exitText, warnings,
    lines: result.stats.lines, unparsed: result.stats.unparsed, unparsedSamples: result.stats.unparsedSamples,
  };
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
    const command = visible(shellQuote(p.argv.length > 0 ? p.argv : [p.exe ?? '?']));
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

async function runEbpf(options: RunPlan, io: RunIo, session: DetectionSession, ebpf: { install: EbpfInstallation | undefined }, signals: SignalForwarder): Promise<SensorOutcome> {
  const install = ebpf.install;
  if (install === undefined) throw new Error('runEbpf without an eBPF installation');
  const warnings: string[] = [];
  let died: string | undefined;
  const sensor = new EbpfSensor({
    install,
    procfs: LIVE_PROCFS,
    commandOnly: true,
    roots: kernelRoots(options.recipes),
    onEvents: (events) => {
      session.push(events);
    },
    onDied: (code, signal, stderr, lastSeenMs) => {
      died = `${sensorName(sensor.install)} ended (${signal ?? `exit ${String(code)}`}) while the command ran${stderr === '' ? '' : `: ${visible(stderr)}`}; what ran after that was not observed`;
      // Detections of processes live from the last record the sensor delivered say their evidence may be incomplete.
      session.push([{ kind: 'sensor-loss', timeMs: lastSeenMs, lost: 0, gap: { startMs: lastSeenMs, endMs: null } }]);
    },
  });
  await sensor.start();
  ebpf.install = sensor.install;
  if (sensor.fallbackReason !== undefined && !options.quiet) {
    session.say(`tripline: sensor: bpftrace ${sensor.install.version} instead of the compiled sensor, which did not start: ${visible(sensor.fallbackReason)}`);
  }
  for (const note of unwatchedByEbpf(options.recipes, sensor.install, sensor.options.roots)) session.say(`tripline: warning: ${visible(note)}`);
  const [file = '', ...args] = options.command;
  const child = spawn(file, args, { cwd: io.cwd, env: io.env, stdio: 'inherit' });
  const rootPid = child.pid;
  if (rootPid !== undefined) {
    sensor.limitTo(rootPid);
    signals.setTarget(rootPid);
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
    // Like strace -f: the run ends when everything the command started has ended.
    // Like strace -f: wait until nothing of the command is left. A child's FORK line can take
    // up to the sensor's hold time to be released, so "nothing left" must last that long; /proc
    // says who is really still there, so an exit line bpftrace lost cannot hang the run.
    let quietSince: number | undefined;
    const anyAlive = (): boolean => sensor.monitoredPids().some((pid) => existsSync(`/proc/${pid}`));
    // The compiled sensor's records come in order: its barrier alone says every fork before it is known.
    const quietMs = (): number => (sensor.ordered ? 0 : sensor.holdMs() + QUIET_AFTER_EXIT_MS);
    while (died === undefined) {
      if (anyAlive()) quietSince = undefined;
      else quietSince ??= Date.now();
      if (quietSince !== undefined && Date.now() - quietSince >= quietMs()) {
        // A background child whose FORK line was later than the hold is known only once the
        // sensor has caught up: ask, and go on waiting if one turns out to be alive.
        const caughtUp = await sensor.settle();
        if (!anyAlive()) {
          settled = caughtUp;
          break;
        }
        quietSince = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, sensor.ordered ? 10 : 50));
    }
  } finally {
    await sensor.stop({ settled });
  }
  if (died !== undefined) warnings.push(died);
  const h = sensor.health();
  if (h.lost > 0) warnings.push(`${sensorName(sensor.install)} lost ${h.lost} event(s): its buffers overflowed, some accesses were not seen`);
  if (h.orphans > 0) warnings.push(`${h.orphans} process(es) came without their fork line (lost or too late): their place in the process tree is taken from /proc or their exec`);
  if (!sensor.drained && died === undefined) {
    warnings.push(`${sensorName(sensor.install)} did not catch up before it was stopped: the command's last events may be missing`);
    const now = sensor.nowMs();
    session.push([{ kind: 'sensor-loss', timeMs: now, lost: 0, gap: { startMs: now, endMs: now } }]);
  }
  if (sensor.consumerError !== undefined) warnings.push(`internal error while analysing events (detections made before it are kept): ${sensor.consumerError.stack ?? sensor.consumerError.message}`);
  // A sensor that died leaves the observation incomplete: say so in the exit code, as with strace.
  const commandCode = status.signal !== null ? signalExitCode(status.signal) : (status.code ?? EXIT.sensor);
  const exitCode = died === undefined ? commandCode : EXIT.sensor;
  return {
    exitCode, exitText: status.signal !== null ? `killed by ${status.signal}` : `exit ${commandCode}`, warnings,
    lines: sensor.stats.lines, unparsed: sensor.stats.unparsed, unparsedSamples: sensor.stats.unparsedSamples,
  };
}
