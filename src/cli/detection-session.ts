// What `run` and `watch` share: the environment, the pipeline and the outputs, and the
// dispatch of engine results to them.

import { randomUUID } from 'node:crypto';
import type { Sourced } from '../config/tripline-config.ts';
import { detectCi, detectEnvironment, EnvironmentError } from '../context/environment-detector.ts';
import { readHostInfo } from '../context/host-info.ts';
import { DetectionPipeline } from '../engine/detection-pipeline.ts';
import type { EngineOutput, EngineTrace } from '../engine/engine.ts';
import type { Detection } from '../model/detection.ts';
import type { SensorInfo } from '../model/detection-context.ts';
import type { Environment, EnvironmentKind } from '../model/environment.ts';
import type { Recipe } from '../model/recipe.ts';
import type { SensorEvent } from '../model/sensor-event.ts';
import { JsonlOutput } from '../outputs/jsonl-output.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import { paletteFor, type Palette } from '../outputs/palette.ts';
import { TerminalNotice } from '../outputs/terminal-notice.ts';
import { LIVE_FILE_SYSTEM_PROBE } from '../sensors/live-file-system-probe.ts';
import { UsageError } from './usage-error.ts';

export interface CliIo {
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface SessionOptions {
  readonly command: string;
  /** The configured kind (undefined: decided from CI variables) and where that came from. */
  readonly environment: Sourced<EnvironmentKind | undefined>;
  readonly recipes: readonly Recipe[];
  readonly jsonl: string | undefined;
  /** Append to the JSONL file rather than start it anew (the daemon). */
  readonly appendJsonl?: boolean;
  readonly notices: boolean;
  readonly sensor: SensorInfo;
  /** Close detections of live subjects after a quiet window (the daemon). */
  readonly closeIdleLive?: boolean;
  /** Told every decision of the engine (`recipes explain`). */
  readonly trace?: (step: EngineTrace) => void;
  /** Called for every final detection, after the outputs. */
  readonly onClosed?: (detection: Detection) => void;
}

export class DetectionSession {
  readonly pipeline: DetectionPipeline;
  readonly palette: Palette;
  readonly finals: Detection[] = [];
  private outputs: DetectionOutput[] = [];
  /** Outputs that failed and were turned off, with why (the report and the summary say so). */
  readonly outputFailures: string[] = [];
  private readonly io: CliIo;
  private readonly onClosed: ((detection: Detection) => void) | undefined;

  constructor(options: SessionOptions, io: CliIo) {
    this.io = io;
    this.onClosed = options.onClosed;
    let environment: Environment;
    const kind = options.environment.value;
    if (kind !== undefined) {
      const ci = detectCi(io.env);
      environment = { kind, source: options.environment.source, ...(ci === undefined ? {} : { ci }) };
    } else {
      try {
        environment = detectEnvironment(undefined, io.env);
      } catch (error) {
        if (error instanceof EnvironmentError) throw new UsageError(error.message, { cause: error });
        throw error;
      }
    }
    this.palette = paletteFor(io.stderr, io.env);
    if (options.notices) this.outputs.push(new TerminalNotice((line) => { this.say(line); }, this.palette));
    if (options.jsonl !== undefined) {
      try {
        this.outputs.push(new JsonlOutput(options.jsonl, options.appendJsonl === true));
      } catch (error) {
        throw new UsageError(`${options.command}: --jsonl ${options.jsonl}: ${(error as Error).message}`, { cause: error });
      }
    }
    this.pipeline = new DetectionPipeline({
      recipes: options.recipes,
      sessionId: randomUUID(),
      initialCwd: io.cwd,
      ...(process.getuid === undefined ? {} : { initialUid: process.getuid() }),
      context: { environment, host: readHostInfo(), sensor: options.sensor },
      probe: LIVE_FILE_SYSTEM_PROBE,
      closeIdleLive: options.closeIdleLive === true,
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    });
  }

  /** What exceptions and limits kept from the detections, so nothing is silenced unseen. */
  policyNotes(): string[] {
    const engine = this.pipeline.engine;
    const notes: string[] = [];
    for (const [name, count] of engine.exceptionHits) notes.push(`exception "${name}" applied to ${String(count)} access(es)`);
    for (const [limit, count] of engine.suppressed) notes.push(`${String(count)} detection(s) not raised: limit ${limit} reached`);
    return notes;
  }

  say(line: string): void {
    try {
      this.io.stderr.write(`${line}\n`);
    } catch {
      // stderr is gone (a closed pipe): nothing left to tell, and no reason to stop watching
    }
  }

  push(events: readonly SensorEvent[]): void {
    for (const e of events) this.dispatch(this.pipeline.push(e));
  }

  tick(nowMs: number): void {
    this.dispatch(this.pipeline.engine.tick(nowMs));
  }

  /** Runs another set of recipes from now on; detections still open are closed and reported first. */
  replaceRecipes(recipes: readonly Recipe[]): void {
    this.dispatch(this.pipeline.replaceRecipes(recipes));
  }

  /** Closes every detection still open and the outputs. */
  finish(): void {
    this.dispatch(this.pipeline.flush());
    for (const o of this.outputs) this.guard(o, () => o.close?.());
  }

  /** Runs an output's call; an output that throws (disk full, closed pipe) is turned off and reported. */
  private guard(o: DetectionOutput, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.outputs = this.outputs.filter((x) => x !== o);
      const message = `an output failed and was turned off: ${(error as Error).message}`;
      this.outputFailures.push(message);
      this.say(`tripline: warning: ${message}`);
    }
  }

  private dispatch(results: readonly EngineOutput[]): void {
    for (const r of results) {
      for (const o of this.outputs) {
        this.guard(o, () => {
          if (r.type === 'opened') o.opened?.(r.detection);
          else o.closed?.(r.detection);
        });
      }
      if (r.type === 'closed') {
        this.finals.push(r.detection);
        this.onClosed?.(r.detection);
      }
    }
  }
}
