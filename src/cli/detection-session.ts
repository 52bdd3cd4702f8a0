// What `run` and `watch` share: the environment, the pipeline and the outputs, and the
// dispatch of engine results to them.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { OutputsConfig, Sourced } from '../config/tripline-config.ts';
import { attributePackage } from '../context/package-attribution.ts';
import { detectCi, detectEnvironment, EnvironmentError } from '../context/environment-detector.ts';
import { readHostInfo } from '../context/host-info.ts';
import { withStep, type StepTracker } from '../context/step-attribution.ts';
import { withContainers, type ContainerTracker } from '../context/container-identity.ts';
import { environmentFromContainer } from '../context/container-environment.ts';
import { DetectionPipeline } from '../engine/detection-pipeline.ts';
import type { EngineOutput, EngineTrace } from '../engine/engine.ts';
import type { Detection } from '../model/detection.ts';
import type { DetectionContext, SensorInfo } from '../model/detection-context.ts';
import type { Environment, EnvironmentKind } from '../model/environment.ts';
import type { Recipe } from '../model/recipe.ts';
import type { SensorEvent } from '../model/sensor-event.ts';
import { readDocumentFile } from '../documents/document-file.ts';
import { GithubOutput } from '../outputs/github-output.ts';
import { JsonlOutput } from '../outputs/jsonl-output.ts';
import { JunitOutput } from '../outputs/junit-output.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import { OutputQueue, type OutputLoss } from '../outputs/output-queue.ts';
import { SarifOutput } from '../outputs/sarif-output.ts';
import { redactDetection } from '../outputs/secret-redactor.ts';
import { WebhookOutput } from '../outputs/webhook-output.ts';
import { paletteFor, type Palette } from '../outputs/palette.ts';
import { TerminalNotice } from '../outputs/terminal-notice.ts';
import { LIVE_FILE_SYSTEM_PROBE } from '../sensors/live-file-system-probe.ts';
import type { SensorHealth } from '../sensors/sensor.ts';
import { SessionStore, type SessionStoreSettings } from '../store/session-store.ts';
import { openSessionNatsOutput } from '../fleet/nats-output.ts';
import { UsageError } from './usage-error.ts';
import { triplineVersion } from './tripline-version.ts';

export interface CliIo {
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** What a command writes to: stdout for its answer (help, listings, JSON), stderr for the rest. */
export interface CommandIo extends CliIo {
  readonly stdout: NodeJS.WritableStream;
}

export interface SessionOptions {
  readonly command: string;
  /** The configured kind (undefined: decided from CI variables) and where that came from. */
  readonly environment: Sourced<EnvironmentKind | undefined>;
  readonly recipes: readonly Recipe[];
  /** Where detections go besides the terminal (undefined: nowhere else). */
  readonly outputs: OutputsConfig | undefined;
  /** Append to the JSONL file rather than start it anew (the daemon). */
  readonly appendJsonl?: boolean;
  /** Every revision goes to the JSONL file unless the configuration says final only (the daemon); else the final one. */
  readonly jsonlRevisions?: boolean;
  readonly notices: boolean;
  /** Where GitHub workflow commands go: stderr for run and watch (stdout is the command's), stdout for report. */
  readonly annotations?: (line: string) => void;
  readonly sensor: SensorInfo;
  /** Close detections of live subjects after a quiet window (the daemon). */
  readonly closeIdleLive?: boolean;
  /** Told every decision of the engine (`recipes explain`). */
  readonly trace?: (step: EngineTrace) => void;
  /** Called for every final detection, after the outputs. */
  readonly onClosed?: (detection: Detection) => void;
  /** false: `finals` stays empty (report delivers files of any size, and counts through onClosed). */
  readonly keepFinals?: boolean;
  /** The workflow step of each subject, from the processes' environments (watch); else tripline's own step. */
  readonly steps?: StepTracker;
  /** The container of each process (watch): in every detection, and for the exceptions' container conditions. */
  readonly containers?: ContainerTracker;
  /** The pod (or container) label naming each detection's environment (watch, environment_label); needs `containers`. */
  readonly environmentLabel?: string | undefined;
  /** The detection store (run, watch); undefined: none (report, recipes explain). */
  readonly store?: SessionStoreSettings | undefined;
}

/**
 * How a daemon (`watch`) sets up its session: JSONL appended to, detections of live subjects
 * closed after a quiet window, and no final detection kept (only counted), so that nothing
 * the session holds grows with the number of detections.
 */
export const DAEMON_SESSION = { appendJsonl: true, closeIdleLive: true, keepFinals: false, jsonlRevisions: true } as const;

export class DetectionSession {
  readonly pipeline: DetectionPipeline;
  readonly palette: Palette;
  readonly finals: Detection[] = [];
  /** Final detections made so far, kept in `finals` or not (watch keeps none: its memory must not grow). */
  detectionCount = 0;
  private readonly queue: OutputQueue;
  private readonly webhook: WebhookOutput | undefined;
  /** The detection store, when one is configured and could be opened. */
  readonly store: SessionStore | undefined;
  /** What outputs could not do, one line each, known after finish() (the report and the stop summary say so). */
  readonly outputFailures: string[] = [];
  private readonly io: CliIo;
  private readonly onClosed: ((detection: Detection) => void) | undefined;
  private readonly keepFinals: boolean;
  private readonly steps: StepTracker | undefined;
  private readonly containers: ContainerTracker | undefined;

  constructor(options: SessionOptions, io: CliIo) {
    this.io = io;
    this.steps = options.steps;
    this.containers = options.containers;
    this.onClosed = options.onClosed;
    this.keepFinals = options.keepFinals !== false;
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
    const outputs: DetectionOutput[] = [];
    if (options.notices) {
      const notice = new TerminalNotice((line) => { this.say(line); }, this.palette);
      outputs.push({ name: 'terminal', opened: (d) => { notice.opened(d); } });
    }
    const o = options.outputs;
    const opening = (what: string, open: () => DetectionOutput): void => {
      try {
        outputs.push(open());
      } catch (error) {
        throw new UsageError(`${options.command}: ${what}: ${(error as Error).message}`, { cause: error });
      }
    };
    const jsonl = o?.jsonl.value;
    const finalOnly = o?.jsonlFinalOnly?.value ?? options.jsonlRevisions !== true;
    if (jsonl !== undefined) opening(`jsonl ${jsonl}`, () => new JsonlOutput(jsonl, options.appendJsonl === true || o?.jsonlAppend.value === true, undefined, { finalOnly }));
    const sarif = o?.sarif.value;
    const workspace = io.env.GITHUB_WORKSPACE ?? io.env.CI_PROJECT_DIR ?? io.cwd;
    if (sarif !== undefined) {
      opening(`sarif ${sarif}`, () => new SarifOutput({ path: sarif, recipes: options.recipes, toolVersion: triplineVersion(), workspace, workflowFile: workflowFile(io.env) }));
    }
    const junit = o?.junit.value;
    if (junit !== undefined) opening(`junit ${junit}`, () => new JunitOutput({ path: junit, recipes: options.recipes }));
    const url = o?.webhook.value;
    let webhook: WebhookOutput | undefined;
    // The URL is not echoed in the error: it may carry the hook's secret.
    if (url !== undefined) opening('webhook', () => (webhook = new WebhookOutput({ url, secret: o?.webhookSecret.value, userAgent: `tripline/${triplineVersion()}` })));
    this.webhook = webhook;
    // A store that cannot be opened is warned about; the session goes on without it. First of
    // the outputs: a revision any output has shown or written is committed in the store already.
    this.store = options.store === undefined ? undefined : SessionStore.open(options.store, io.env, (message) => { this.say(`tripline: warning: ${message}`); });
    if (this.store !== undefined) outputs.unshift(this.store.output);
    // After the store: when the NATS output is told of a revision, the store has it in the outbox.
    const nats = o?.nats;
    if (nats !== undefined && options.store !== undefined) {
      opening(`nats ${nats.url}`, () => openSessionNatsOutput(nats, this.store?.path, options.command, io.env, (message) => { this.say(`tripline: warning: ${message}`); }));
    } else if (nats !== undefined && nats.source.startsWith('--output')) {
      throw new UsageError(`${options.command}: --output nats is for run and watch, which keep the detection store it sends from`);
    }
    const github = o?.github.value ?? 'off';
    if (github === 'on' || (github === 'auto' && io.env.GITHUB_ACTIONS === 'true')) {
      outputs.push(new GithubOutput({
        annotations: options.annotations ?? ((line) => { this.say(line); }),
        summaryPath: io.env.GITHUB_STEP_SUMMARY, outputPath: io.env.GITHUB_OUTPUT, sarifPath: sarif,
        // The webhook closes first (outputs close in order), so its final counts are known here.
        problems: () => [
          ...(this.queue.dropped > 0 ? [`${String(this.queue.dropped)} detection event(s) dropped: the output queue was full`] : []),
          ...this.queue.losses().map(describeLoss),
          ...[this.webhook?.summary()].filter((line): line is string => line !== undefined),
        ],
      }));
    }
    this.queue = new OutputQueue(outputs, {
      warn: (message) => { this.say(`tripline: warning: ${message}`); },
    });
    this.pipeline = new DetectionPipeline({
      recipes: options.recipes,
      sessionId: randomUUID(),
      initialCwd: io.cwd,
      ...(process.getuid === undefined ? {} : { initialUid: process.getuid() }),
      context: { environment, host: readHostInfo(), sensor: options.sensor, ...environmentByLabel(this.containers, options.environmentLabel, environment) },
      probe: LIVE_FILE_SYSTEM_PROBE,
      closeIdleLive: options.closeIdleLive === true,
      ...(options.trace === undefined ? {} : { trace: options.trace }),
      ...(options.containers === undefined ? {} : { containers: options.containers }),
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

  /** Sends the revisions of growing detections that are due (`run`'s timer: lets no other time pass). */
  dueUpdates(nowMs: number): void {
    this.dispatch(this.pipeline.engine.dueUpdates(nowMs));
  }

  /** Runs another set of recipes from now on; detections still open are closed and reported first. */
  replaceRecipes(recipes: readonly Recipe[]): void {
    this.dispatch(this.pipeline.replaceRecipes(recipes));
  }

  /**
   * Closes every detection still open, serves the outputs and closes them (waiting for the
   * webhook); `beforeStoreCloses` runs once every detection is written (a last health sample).
   */
  async finish(beforeStoreCloses?: () => void): Promise<void> {
    this.dispatch(this.pipeline.flush());
    await this.queue.close();
    beforeStoreCloses?.();
    this.store?.close();
    this.outputFailures.push(...this.queue.losses().map(describeLoss));
    const webhook = this.webhook?.summary();
    if (webhook !== undefined) this.outputFailures.push(webhook);
    if (this.queue.dropped > 0) this.outputFailures.push(`${String(this.queue.dropped)} detection event(s) dropped: the output queue was full`);
  }

  /**
   * Stores a sample of the sensor's health and loss in the detection store (no store: nothing).
   * `linesPerSecond`: since the previous sample, undefined for the first.
   */
  recordHealth(source: 'run' | 'watch', sensor: string, h: SensorHealth, gaps: number, linesPerSecond: number | undefined): void {
    this.store?.recordHealth({
      host: hostname(), time: new Date().toISOString(), source, sensor,
      lines: h.lines, lost: h.lost, late: h.late, orphans: h.orphans, unparsed: h.unparsed, gaps, pending: h.pending,
      maxLatenessMs: h.maxLatenessMs, holdMs: h.holdMs, linesPerSecond, detections: this.detectionCount,
    });
  }

  /** Per output that failed at least once, what it could not write (final after finish()). */
  outputLosses(): OutputLoss[] {
    return this.queue.losses();
  }

  /** Log rotation (SIGHUP under watch): file outputs open their path afresh, failing ones are retried now. */
  reopenOutputs(): void {
    this.queue.reopen();
  }

  /** Replays final detections (from a JSONL file) through the outputs, as if just made. */
  deliver(detections: readonly Detection[]): void {
    this.dispatch(detections.map((detection) => ({ type: 'closed', detection })));
  }

  private dispatch(results: readonly EngineOutput[]): void {
    for (const r of results) {
      const detection = this.prepare(r.detection);
      this.queue.push({ type: r.type, detection });
      if (r.type === 'closed') {
        this.detectionCount++;
        if (this.keepFinals) this.finals.push(detection);
        this.onClosed?.(detection);
      }
    }
  }

  /**
   * Before any output sees a detection: the npm/yarn/pnpm package it comes from (read from its
   * package.json while it is there), then every secret-shaped string redacted.
   */
  private prepare(d: Detection): Detection {
    const s = d.subject;
    const pkg = s.package ?? attributePackage(s.process, s.members, s.ancestry, readText);
    const attributed = pkg === s.package ? d : { ...d, subject: { ...s, package: pkg } };
    const stepped = this.steps === undefined ? attributed : withStep(attributed, this.steps.stepOf(s.process, s.ancestry));
    return redactDetection(this.containers === undefined ? stepped : withContainers(stepped, this.containers));
  }
}

/** Each detection's environment from its subject's container's label, where one is configured and containers are tracked. */
function environmentByLabel(containers: ContainerTracker | undefined, label: string | undefined, fallback: Environment): Pick<DetectionContext, 'environmentOf'> {
  if (containers === undefined || label === undefined) return {};
  return { environmentOf: (subject, ancestry) => environmentFromContainer(containers.containerOf(subject, ancestry), label, fallback) };
}

/** One output's trouble, for the report: what it never wrote, or that it recovered. */
function describeLoss(l: OutputLoss): string {
  const why = l.lastError === undefined ? '' : ` (last error: ${l.lastError})`;
  const lost = [
    ...(l.detections > 0 ? [`${String(l.detections)} detection(s) not written`] : []),
    // The terminal's live notice is its open revision; elsewhere (JSONL, webhook) the open revision is a record of its own.
    ...(l.notices > 0 ? [l.name === 'terminal' ? `${String(l.notices)} notice(s) not shown` : `${String(l.notices)} open revision(s) not written`] : []),
    ...(l.revisions > 0 ? [`${String(l.revisions)} revision(s) of open detections not written`] : []),
  ];
  if (lost.length === 0) return `output ${l.name} failed ${String(l.failedAttempts)} time(s)${why}; everything was written after retrying (${String(l.writtenLate)} late)`;
  return `output ${l.name}: ${lost.join(', ')} after ${String(l.failedAttempts)} failed attempt(s)${why}`;
}

/** A package.json is attacker-controlled: only a regular file of at most 1 MiB is read, never waiting (a FIFO). */
function readText(path: string): string | undefined {
  const read = readDocumentFile(path);
  return 'text' in read ? read.text : undefined;
}

/** The workflow file of a GitHub run (GITHUB_WORKFLOW_REF is owner/repo/PATH@ref), or GitLab's. */
function workflowFile(env: NodeJS.ProcessEnv): string | undefined {
  const ref = env.GITHUB_WORKFLOW_REF;
  if (ref !== undefined) {
    const m = /^[^/]+\/[^/]+\/(.+?)@/.exec(ref);
    if (m?.[1] !== undefined) return m[1];
  }
  if (env.GITLAB_CI === 'true') return '.gitlab-ci.yml';
  return undefined;
}
