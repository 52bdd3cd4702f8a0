// `tripline run`: wires the strace sensor, the detection pipeline and the outputs together,
// forwards signals to the command, and decides the exit code.

import { randomUUID } from 'node:crypto';
import { detectEnvironment, EnvironmentError } from '../context/environment-detector.ts';
import { readHostInfo } from '../context/host-info.ts';
import { DetectionPipeline } from '../engine/detection-pipeline.ts';
import type { EngineOutput } from '../engine/engine.ts';
import type { Detection } from '../model/detection.ts';
import { importanceRank } from '../model/importance.ts';
import type { SensorEvent } from '../model/sensor-event.ts';
import { JsonlOutput } from '../outputs/jsonl-output.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import { paletteFor } from '../outputs/palette.ts';
import { TerminalNotice } from '../outputs/terminal-notice.ts';
import { visible } from '../outputs/terminal-text.ts';
import { formatReport } from '../outputs/text-report.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { lookUpExecutable } from '../sensors/executable-lookup.ts';
import { LIVE_FILE_SYSTEM_PROBE } from '../sensors/live-file-system-probe.ts';
import { probeStrace, runUnderStrace } from '../sensors/strace/strace-sensor.ts';
import { EXIT, signalExitCode } from './exit-codes.ts';
import { RUN_HELP } from './help-text.ts';
import { parseRunOptions, type RunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';

export interface RunIo {
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

export async function runCommand(args: readonly string[], io: RunIo): Promise<number> {
  const options = parseRunOptions(args);
  if (options.help) {
    io.stderr.write(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  return traceCommand(options, io);
}

export async function traceCommand(options: RunOptions, io: RunIo): Promise<number> {
  let environment;
  try {
    environment = detectEnvironment(options.environment, io.env);
  } catch (error) {
    if (error instanceof EnvironmentError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  const strace = probeStrace(io.env);
  const program = options.command[0] ?? '';
  const lookup = lookUpExecutable(program, io.env, io.cwd);
  if (!('found' in lookup)) {
    // As a shell would: 127 for a command that is not there, 126 for one that cannot be run.
    const missing = 'missing' in lookup;
    io.stderr.write(`tripline: ${visible(program)}: ${missing ? 'command not found' : 'permission denied (not an executable file)'}\n`);
    return missing ? EXIT.commandNotFound : EXIT.commandNotExecutable;
  }
  const palette = paletteFor(io.stderr, io.env);
  const say = (line: string): void => void io.stderr.write(`${line}\n`);
  const outputs: DetectionOutput[] = [];
  if (!options.quiet) outputs.push(new TerminalNotice(say, palette));
  if (options.jsonl !== undefined) {
    try {
      outputs.push(new JsonlOutput(options.jsonl));
    } catch (error) {
      throw new UsageError(`run: --jsonl ${options.jsonl}: ${(error as Error).message}`, { cause: error });
    }
  }
  const pipeline = new DetectionPipeline({
    recipes: BUILTIN_RECIPES,
    sessionId: randomUUID(),
    initialCwd: io.cwd,
    ...(process.getuid === undefined ? {} : { initialUid: process.getuid() }),
    context: { environment, host: readHostInfo(), sensor: { name: 'strace', version: strace.version } },
    probe: LIVE_FILE_SYSTEM_PROBE,
  });
  const finals: Detection[] = [];
  const dispatch = (results: readonly EngineOutput[]): void => {
    for (const r of results) {
      if (r.type === 'closed') finals.push(r.detection);
      for (const o of outputs) {
        if (r.type === 'opened') o.opened?.(r.detection);
        else o.closed?.(r.detection);
      }
    }
  };

  // Signals for tripline go to the command; a second one goes to everything still traced.
  let rootPid: number | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  let received = 0;
  const send = (pids: readonly number[], signal: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const forward = (signal: NodeJS.Signals): void => {
    received++;
    if (rootPid === undefined) pendingSignal = signal;
    else send(received > 1 ? pipeline.normalizer.processes.livePids() : [rootPid], signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);

  const startedMs = Date.now();
  let result;
  try {
    result = await runUnderStrace({
      command: options.command,
      cwd: io.cwd,
      env: io.env,
      strace,
      onEvents: (events: readonly SensorEvent[]) => {
        for (const e of events) dispatch(pipeline.push(e));
      },
      onRoot: (pid) => {
        rootPid = pid;
        // A signal that came before the command was known is delivered now, to the command.
        if (pendingSignal !== undefined) send([pid], pendingSignal);
      },
    });
  } finally {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  }
  dispatch(pipeline.flush());
  for (const o of outputs) o.close?.();

  // The command's fate as the trace saw it, checked against strace's own exit.
  const root = result.rootPid === undefined ? undefined : pipeline.normalizer.processes.get(result.rootPid);
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
    warnings.push(`the tracer (strace) died with ${result.tracerSignal} before the command ended: what ran after that was not observed, and with --seccomp-bpf its remaining system calls may have failed with ENOSYS`);
  } else {
    exitCode = result.tracerExitCode ?? EXIT.sensor;
    exitText = `exit ${exitCode}`;
    if (result.rootPid === undefined) warnings.push('strace reported nothing: the command may not have started (see strace\'s message above)');
  }
  if (root !== undefined && result.tracerSignal !== null && root.exitSignal !== result.tracerSignal) {
    exitCode = EXIT.sensor;
    warnings.push(`the tracer (strace) died with ${result.tracerSignal} while processes it traced were still running: the trace is incomplete`);
  }
  if (result.stats.overlongLines > 0) warnings.push(`${result.stats.overlongLines} trace line(s) longer than 1 MiB were skipped`);
  const unresolvable = pipeline.normalizer.stats.unresolvable;
  if (unresolvable > 0) warnings.push(`${unresolvable} access(es) relative to a directory fd of unknown path could not be resolved`);

  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  if (options.quiet) {
    if (finals.length > 0 || warnings.length > 0) say(`tripline: ${finals.length} detection(s)${warnings.length > 0 ? `; ${warnings.join('; ')}` : ''}`);
  } else {
    say(formatReport(finals, {
      command: options.command, exit: exitText, durationMs: Date.now() - startedMs,
      sensor: `strace ${strace.version}${strace.seccompBpf ? ' --seccomp-bpf' : ''}`,
      lines: result.stats.lines, unparsed: result.stats.unparsed, unparsedSamples: result.stats.unparsedSamples, warnings,
    }, palette, width));
  }
  if (options.failOn !== 'never') {
    const level = importanceRank(options.failOn);
    if (finals.some((d) => importanceRank(d.recipe.importance) >= level)) {
      say(`tripline: failing: detections at or above "${options.failOn}" (--fail-on); the command itself ended with ${exitText}`);
      return EXIT.policy;
    }
  }
  return exitCode;
}
