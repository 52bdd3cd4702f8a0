// `tripline run`: runs a command under a sensor (ptrace via strace, or eBPF: the compiled sensor or bpftrace),
// forwards signals to it, reports what it did, and decides the exit code.

import { readFileSync } from 'node:fs';
import { loadTriplineConfig, type FailOn, type OutputsConfig, type SensorChoice, type Sourced } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import { importanceRank } from '../model/importance.ts';
import type { EngineTrace } from '../engine/engine.ts';
import type { Recipe } from '../model/recipe.ts';
import { visible } from '../outputs/terminal-text.ts';
import { formatQuietSummary, formatReport } from '../outputs/text-report.ts';
import { EbpfSensor, kernelRoots, probeEbpf, sensorName, type EbpfInstallation } from '../sensors/ebpf-sensor.ts';
import { lookUpExecutable } from '../sensors/executable-lookup.ts';
import { LIVE_PROCFS } from '../sensors/procfs-reader.ts';
import { SensorUnavailableError } from '../sensors/sensor-errors.ts';
import type { CommandOutcome, Sensor, SensorObserver } from '../sensors/sensor.ts';
import { SensorSupervisor } from '../sensors/sensor-supervisor.ts';
import { probeStrace, StraceSensor, type StraceInstallation } from '../sensors/strace/strace-sensor.ts';
import type { SessionStoreSettings } from '../store/session-store.ts';
import { DetectionSession, type CommandIo } from './detection-session.ts';
import { EXIT, signalExitCode } from './exit-codes.ts';
import { RUN_HELP } from './help-text.ts';
import { parseRunOptions, storeSettings } from './run-options.ts';

export type RunIo = CommandIo;

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
/** An attach that takes longer than this is said while it happens. */
const ATTACH_NOTICE_MS = 1_000;

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
  /** The detection store; undefined: none (`recipes explain`). */
  readonly store?: SessionStoreSettings | undefined;
}

/** How often `run` sends the revisions of growing detections that came due while no event arrived. */
const REVISION_TICK_MS = 200;

export async function runCommand(args: readonly string[], io: RunIo): Promise<number> {
  const options = parseRunOptions(args);
  if (options.help) {
    io.stdout.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  const config = loadTriplineConfig(options, io.env, io.cwd);
  // A broken recipe file is skipped (never the built-ins), and said loudly.
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  return traceCommand({
    command: options.command, quiet: options.quiet, failOn: config.failOn.value, sensor: config.sensor.value,
    outputs: config.outputs, environment: config.environment, recipes: config.recipes, store: storeSettings(config.store),
  }, io);
}

type ChosenSensor = { readonly kind: 'ptrace'; readonly strace: StraceInstallation } | { readonly kind: 'ebpf'; readonly ebpf: EbpfInstallation };

/** --sensor auto: eBPF when privileged and the compiled sensor or bpftrace can run, else ptrace. */
function chooseSensor(options: RunPlan, io: RunIo): { sensor: ChosenSensor; why: string | undefined } {
  if (options.sensor === 'ptrace') return { sensor: { kind: 'ptrace', strace: probeStrace(io.env) }, why: undefined };
  if (options.sensor === 'ebpf') {
    const ebpf = probeEbpf(io.env);
    return { sensor: { kind: 'ebpf', ebpf }, why: ebpf.why === undefined ? undefined : `ebpf (${sensorName(ebpf)} ${ebpf.version}; ${ebpf.why})` };
  }
  try {
    const ebpf = probeEbpf(io.env);
    return { sensor: { kind: 'ebpf', ebpf }, why: `ebpf (${sensorName(ebpf)} ${ebpf.version}; ${ebpf.why ?? 'root and an eBPF program are available'})` };
  } catch (error) {
    if (!(error instanceof SensorUnavailableError)) throw error;
    const strace = probeStrace(io.env);
    return { sensor: { kind: 'ptrace', strace }, why: `ptrace (strace ${strace.version}; eBPF not available: ${error.message})` };
  }
}

/** The chosen sensor behind the Sensor interface; the eBPF one limited in the kernel to tripline's descendants. */
function createSensor(chosen: ChosenSensor, recipes: readonly Recipe[], observer: SensorObserver): Sensor {
  return chosen.kind === 'ptrace'
    ? new StraceSensor(chosen.strace, observer)
    : new EbpfSensor({ install: chosen.ebpf, procfs: LIVE_PROCFS, commandOnly: true, roots: kernelRoots(recipes) }, observer);
}

export async function traceCommand(options: RunPlan, io: RunIo): Promise<number> {
  const { sensor: chosen, why } = chooseSensor(options, io);
  const program = options.command[0] ?? '';
  const lookup = lookUpExecutable(program, io.env, io.cwd);
  if (!('found' in lookup)) {
    // As a shell would: 127 for a command that is not there, 126 for one that cannot be run.
    const missing = 'missing' in lookup;
    io.stderr.write(`tripline: ${visible(program)}: ${missing ? 'command not found' : 'permission denied (not an executable file)'}\n`);
    return missing ? EXIT.commandNotFound : EXIT.commandNotExecutable;
  }
  // Detections name the program that ran (a compiled sensor the kernel refuses gives way to bpftrace at start).
  // Read when a detection is made, from the program running then.
  const sensorInfo = {
    get name(): string { return supervisor.sensor.describe().name; },
    get version(): string | null { return supervisor.sensor.describe().version; },
  };
  const session = new DetectionSession({
    command: 'run', environment: options.environment, recipes: options.recipes, outputs: options.outputs, notices: !options.quiet, sensor: sensorInfo,
    ...(options.trace === undefined ? {} : { trace: options.trace }),
    store: options.store,
  }, io);
  if (why !== undefined && !options.quiet) session.say(`tripline: sensor: ${visible(why)}`);
  const supervisor = new SensorSupervisor({
    create: (observer) => createSensor(chosen, options.recipes, observer),
    onEvents: (events) => {
      session.push(events);
    },
    say: (line) => {
      session.say(line);
    },
  });
  const sensor = supervisor.sensor;

  const signals = new SignalForwarder();
  const processes = session.pipeline.normalizer.processes;
  signals.everyone = () => processes.livePids();
  try {
    // bpftrace compiles its program first (seconds, more under load): say why nothing happens yet.
    const slow = options.quiet ? undefined : setTimeout(() => {
      session.say(`tripline: sensor: attaching ${visible(sensor.describe().name)} (eBPF); the command starts once it is attached`);
    }, ATTACH_NOTICE_MS);
    try {
      await supervisor.start();
    } finally {
      clearTimeout(slow);
    }
    if (sensor.fallbackReason !== undefined && !options.quiet) {
      const d = sensor.describe();
      session.say(`tripline: sensor: ${d.name} ${d.version} instead of the compiled sensor, which did not start: ${visible(sensor.fallbackReason)}`);
    }
    for (const note of sensor.unobserved(options.recipes)) session.say(`tripline: warning: ${visible(note)}`);
    let outcome: CommandOutcome;
    // A revision of a growing detection still pending while the command is quiet goes out once due.
    const revisions = setInterval(() => { session.dueUpdates(sensor.nowMs()); }, REVISION_TICK_MS);
    revisions.unref();
    try {
      outcome = await sensor.runCommand({
        command: options.command, cwd: io.cwd, env: io.env, processes,
        onStarted: (pid) => {
          signals.setTarget(pid);
        },
      });
    } finally {
      clearInterval(revisions);
      await supervisor.stop();
    }
    // The sensor's health and loss over the run, per host and time, beside its detections.
    await session.finish(() => { session.recordHealth('run', sensor.describe().label, sensor.health(), supervisor.gaps.length, undefined); });
    options.onFinished?.(session);
    const h = sensor.health();
    const t = sensor.timings();
    return report(options, session, {
      exitCode: outcome.failed ? EXIT.sensor : commandExitCode(outcome.exit),
      exitText: outcome.exitText, warnings: [...outcome.warnings],
      lines: h.lines, unparsed: h.unparsed, unparsedSamples: h.unparsedSamples,
      durationMs: outcome.durationMs, attachMs: t.attachMs, detachMs: t.detachMs,
    }, sensor.describe().label, io);
  } finally {
    signals.detach();
  }
}

/** What `run` exits with for the command's end: its code, 128+N for a signal, EXIT.sensor when unknown. */
function commandExitCode(exit: CommandOutcome['exit']): number {
  if (exit === undefined) return EXIT.sensor;
  return 'signal' in exit ? signalExitCode(exit.signal) : exit.code;
}

interface SensorOutcome {
  readonly exitCode: number;
  readonly durationMs: number;
  readonly attachMs: number | undefined;
  readonly detachMs: number | undefined;
  readonly exitText: string;
  readonly warnings: string[];
  readonly lines: number;
  readonly unparsed: number;
  readonly unparsedSamples: readonly { line: number; reason: string; text: string }[];
}

function report(options: RunPlan, session: DetectionSession, outcome: SensorOutcome, sensorText: string, io: RunIo): number {
  const finals = session.finals;
  const warnings = [...outcome.warnings, ...session.outputFailures];
  const unresolvable = session.pipeline.normalizer.stats.unresolvable;
  if (unresolvable > 0) warnings.push(`${unresolvable} access(es) relative to a directory fd of unknown path could not be resolved`);
  const { unmappedPids, detachedUnknown } = session.pipeline.normalizer.stats;
  if (unmappedPids > 0) warnings.push(`${unmappedPids} path(s) named a /proc/<pid> from a pid namespace whose numbers were never seen (nested namespaces, setns): left unresolved, not read as this host's pids`);
  if (detachedUnknown > 0) warnings.push(`${detachedUnknown} access(es) went through a detached mount (open_tree, fsmount) of a filesystem never seen being made: not resolved`);

  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  if (options.quiet) {
    // "tripline: 3 detection(s); 1 incomplete (sensor lost events); WARNINGS" (the sensor's own loss is among the warnings).
    const line = formatQuietSummary(finals, warnings);
    if (line !== undefined) session.say(line);
  } else {
    session.say(formatReport(finals, {
      command: options.command, exit: outcome.exitText, durationMs: outcome.durationMs, attachMs: outcome.attachMs, detachMs: outcome.detachMs, sensor: sensorText,
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
