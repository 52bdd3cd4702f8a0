// `tripline report FILE.jsonl...`: the detections a run or a watch wrote, sent to the outputs
// (SARIF, JUnit, GitHub annotations and job summary, webhook) after the fact. The GitHub
// Action's post step uses it; so can any pipeline that keeps the JSONL of its steps. Files of
// any size are streamed a line at a time; a bad line or file is reported and the rest still go.
// A file may hold every revision of each detection (watch's default): they are folded by id,
// the highest revision wins, and a detection that never closed (the writer was stopped) is
// reported as its last revision, said to be not closed.

import { loadTriplineConfig } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { Detection, DetectionSensor } from '../model/detection.ts';
import { importanceRank, isImportance, type Importance } from '../model/importance.ts';
import { visible, visibleJson } from '../model/visible.ts';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { withoutCommands } from '../outputs/github-output.ts';
import { SensorLossTally } from '../outputs/sensor-loss-text.ts';
import { formatDetection } from '../outputs/text-report.ts';
import { DetectionSession } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { REPORT_HELP } from './help-text.ts';
import type { CommandIo } from './detection-session.ts';
import { parseCommandLine } from './command-line.ts';
import { LineFileError, readBoundedLines } from './read-bounded-lines.ts';
import { UsageError } from './usage-error.ts';

/** Longest line taken: a detection with 256 long paths and a long argv is well under 1 MiB. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Problems shown one by one; the rest are counted. */
const PROBLEMS_SHOWN = 20;
/** Detections whose full text is printed on stderr; the rest are counted (all go to the outputs). */
const TEXTS_SHOWN = 100;
/** Deliveries between two turns of the event loop, so the output queue drains as the file is read. */
const DELIVERIES_PER_TURN = 64;
/** Longest quote of a problem's detail (a JSON parser's message quotes the line). */
const DETAIL_CHARS = 200;
/** Detections held open at once while their close is awaited; past this the oldest is reported as it stands. */
export const MAX_OPEN_HELD = 65_536;
/** Ids of detections already reported, remembered so later or repeated revisions of them are not reported twice. */
const REPORTED_REMEMBERED = 262_144;

interface ReportOptions {
  readonly config: string | undefined;
  readonly outputs: string[];
  readonly failOn: string | undefined;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly files: string[];
}

function parseReportOptions(args: readonly string[]): ReportOptions | 'help' {
  const o = parseCommandLine({
    command: 'report',
    options: { config: { type: 'string' }, 'fail-on': { type: 'string' }, output: { type: 'string', multiple: true }, quiet: { type: 'boolean', short: 'q' }, json: { type: 'boolean' } },
    operands: 'any',
  }, args);
  if (o.help) return 'help';
  const failOn = o.values.get('fail-on');
  if (failOn !== undefined && failOn !== 'never' && !isImportance(failOn)) throw new UsageError(`report: --fail-on "${failOn}" is not a level; use never, low, medium, high or critical`);
  if (o.operands.length === 0) throw new UsageError('report: give one or more JSONL files written by tripline run or watch (--jsonl)');
  return { config: o.values.get('config'), outputs: [...(o.lists.get('output') ?? [])], failOn, quiet: o.flags.has('quiet'), json: o.flags.has('json'), files: [...o.operands] };
}

let detectionCheck: ValidateFunction | undefined;

/** The published schema of the event: a JSONL file in a shared temp directory is input like any other. */
function isDetection(value: unknown): string | undefined {
  // date-time is checked by Date.parse: ajv-formats is not a dependency.
  detectionCheck ??= new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true })
    .addFormat('date-time', { type: 'string', validate: (v: string) => !Number.isNaN(Date.parse(v)) })
    .compile(JSON.parse(readFileSync(new URL('../../schema/detection-v1.schema.json', import.meta.url), 'utf8')) as object);
  if (detectionCheck(value)) return undefined;
  const e = detectionCheck.errors?.[0];
  return e === undefined ? 'invalid' : `${e.instancePath === '' ? 'the object' : e.instancePath} ${e.message ?? 'is invalid'}`;
}

/** What went wrong with the input: the first few in words, all counted. */
class InputProblems {
  readonly shown: string[] = [];
  /** The same, unescaped, for --json (JSON escapes what it must). */
  readonly listed: { where: string; problem: string }[] = [];
  count = 0;

  add(where: string, what: string): void {
    this.count++;
    const detail = what.length > DETAIL_CHARS ? `${what.slice(0, DETAIL_CHARS - 3)}...` : what;
    if (this.shown.length < PROBLEMS_SHOWN) {
      this.shown.push(`report: ${visible(where)}: ${visible(detail)}`);
      this.listed.push({ where, problem: detail });
    }
  }
}

/**
 * A detection written before the sensor block had eventsLost, gaps and complete (the schema
 * takes all three or none): those versions did not track loss, so it is read as complete, and
 * every output gets the same shape (docs/detection-event.md).
 */
function withLossFields(d: Detection): Detection {
  const sensor = d.sensor as Pick<DetectionSensor, 'name' | 'version'> & Partial<DetectionSensor>;
  if (sensor.complete !== undefined) return d;
  return { ...d, sensor: { name: sensor.name, version: sensor.version, eventsLost: 0, gaps: [], complete: true } };
}

/**
 * A detection written before revisions (no `revision`, no `state`) was written once, final:
 * revision 1, closed (docs/detection-event.md).
 */
function withRevisionFields(d: Detection): Detection {
  const partial = d as Omit<Detection, 'revision' | 'state'> & Partial<Pick<Detection, 'revision' | 'state'>>;
  if (partial.revision !== undefined && partial.state !== undefined) return d;
  return { ...d, revision: 1, state: 'closed' };
}

/**
 * Folds the revisions of each detection: an open or updated revision is held (the highest
 * revision of its id) until its closed revision comes, which is delivered at once; what never
 * closed is delivered at the end as it last stood. Memory is bounded by the detections open at
 * once (MAX_OPEN_HELD) and a bounded memory of ids already delivered.
 */
export class RevisionFolder {
  private readonly held = new Map<string, Detection>();
  private readonly reported = new Map<string, number>();
  /** Revisions ignored: older than one seen, or of a detection already reported. */
  stale = 0;
  /** Detections reported before their close came because too many were open at once. */
  reportedEarly = 0;

  constructor(private readonly deliver: (d: Detection) => void, private readonly maxHeld = MAX_OPEN_HELD) {}

  add(d: Detection): void {
    const done = this.reported.get(d.id);
    if (done !== undefined && d.revision <= done) {
      this.stale++;
      return;
    }
    const held = this.held.get(d.id);
    if (held !== undefined && held.revision >= d.revision) {
      this.stale++;
      return;
    }
    this.held.delete(d.id);
    if (d.state === 'closed' || done !== undefined) {
      // A revision of a detection reported early (the fold was full) is reported again only when it closes.
      if (d.state !== 'closed') return;
      this.report(d);
      return;
    }
    this.held.set(d.id, d);
    if (this.held.size > this.maxHeld) {
      const [oldest] = this.held.values();
      if (oldest !== undefined) {
        this.held.delete(oldest.id);
        this.reportedEarly++;
        this.report(oldest);
      }
    }
  }

  /** Detections whose close never came, as they last stood (state open or updated). */
  finish(): void {
    for (const d of this.held.values()) this.report(d);
    this.held.clear();
  }

  private report(d: Detection): void {
    this.reported.delete(d.id);
    this.reported.set(d.id, d.revision);
    if (this.reported.size > REPORTED_REMEMBERED) {
      const oldest = this.reported.keys().next();
      if (oldest.done !== true) this.reported.delete(oldest.value);
    }
    this.deliver(d);
  }
}

/** A line as a detection, or why it is not one. */
function parseLine(text: string): { detection: Detection } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const problem = isDetection(value);
  return problem === undefined ? { detection: withRevisionFields(withLossFields(value as Detection)) } : { problem: `not a valid tripline.detection/v1 object: ${problem}` };
}

/**
 * Streams every file into the session, one detection at a time: no file is held whole, nor its
 * detections. A missing or unreadable file, a line that is too long, not JSON or not a
 * detection is a problem naming file and line; everything else still goes through.
 */
async function deliverFiles(files: readonly string[], cwd: string, folder: RevisionFolder, problems: InputProblems): Promise<void> {
  let sinceTurn = 0;
  for (const file of files) {
    try {
      // Named as given; read relative to the command's working directory.
      for await (const read of readBoundedLines(resolve(cwd, file), MAX_LINE_BYTES)) {
        const where = `${file}:${String(read.line)}`;
        if ('tooLong' in read) {
          problems.add(where, `line of ${String(read.tooLong)} bytes, longer than the ${String(MAX_LINE_BYTES)} allowed; skipped`);
          continue;
        }
        if (read.text.trim() === '') continue;
        const parsed = parseLine(read.text);
        if ('problem' in parsed) {
          problems.add(where, parsed.problem);
          continue;
        }
        folder.add(parsed.detection);
        if (++sinceTurn >= DELIVERIES_PER_TURN) {
          sinceTurn = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (error) {
      if (error instanceof LineFileError) problems.add(file, error.message);
      else problems.add(file, `cannot read: ${(error as Error).message}`);
    }
  }
}

/** The line above a detection that never closed: its evidence is what was known when the writer stopped. */
function notClosedText(d: Detection): string {
  return d.state === 'closed' ? '' : `(not closed: revision ${String(d.revision)}, the last written before the writer stopped; more evidence may have followed)\n`;
}

export async function reportCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseReportOptions(args);
  if (options === 'help') {
    io.stdout.write(`${REPORT_HELP}\n`);
    return EXIT.ok;
  }
  const config = loadTriplineConfig({ config: options.config, outputs: options.outputs, failOn: options.failOn }, io.env, io.cwd);
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  // The JSONL files are the input here: never write them again.
  const outputs = { ...config.outputs, jsonl: { value: undefined, source: 'report' } };
  // Nothing is kept but a count, the highest importance and the first texts to print.
  let count = 0;
  let highest: Importance | undefined;
  const byImportance = new Map<Importance, number>();
  const byRecipe = new Map<string, number>();
  const loss = new SensorLossTally();
  const texts: Detection[] = [];
  let notClosed = 0;
  const session = new DetectionSession({
    command: 'report', environment: config.environment, recipes: config.loadedRecipes, outputs, notices: false,
    sensor: { name: 'report', version: null },
    annotations: (line) => { io.stdout.write(`${line}\n`); },
    keepFinals: false,
    onClosed: (d) => {
      count++;
      if (d.state !== 'closed') notClosed++;
      loss.add(d);
      byImportance.set(d.recipe.importance, (byImportance.get(d.recipe.importance) ?? 0) + 1);
      byRecipe.set(d.recipe.id, (byRecipe.get(d.recipe.id) ?? 0) + 1);
      if (highest === undefined || importanceRank(d.recipe.importance) > importanceRank(highest)) highest = d.recipe.importance;
      if (!options.quiet && texts.length < TEXTS_SHOWN) texts.push(d);
    },
  }, io);
  const problems = new InputProblems();
  const folder = new RevisionFolder((d) => { session.deliver([d]); });
  await deliverFiles(options.files, io.cwd, folder, problems);
  folder.finish();
  await session.finish();
  // Printed once the annotations are out: in a GitHub job log, text quoting files and processes
  // is shown with workflow commands suspended, and no annotation may fall inside that window.
  const guarded = (text: string): string => (io.env.GITHUB_ACTIONS === 'true' ? withoutCommands(text) : text);
  if (problems.count > 0) {
    const more = problems.count > problems.shown.length ? [`tripline: report: ${String(problems.count - problems.shown.length)} more problem(s) not shown`] : [];
    session.say(guarded([...problems.shown.map((p) => `tripline: ${p}`), ...more].join('\n')));
  }
  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  if (texts.length > 0) {
    const more = count > texts.length ? `\n(${String(count - texts.length)} more detection(s) not printed here; every one is in the other outputs)\n` : '';
    session.say(guarded(`${texts.map((d) => `\n${notClosedText(d)}${formatDetection(d, session.palette, width)}\n`).join('')}${more}`));
  }
  for (const w of session.outputFailures) session.say(`tripline: warning: ${visible(w)}`);
  const skipped = problems.count > 0 ? `; ${String(problems.count)} problem(s) with the input` : '';
  const open = notClosed > 0 ? `; ${String(notClosed)} never closed (the writer stopped first): their last revision is reported` : '';
  const early = folder.reportedEarly > 0 ? `; ${String(folder.reportedEarly)} reported before their close (more than ${String(MAX_OPEN_HELD)} open at once)` : '';
  const incomplete = loss.brief();
  session.say(`tripline: ${String(count)} detection(s) from ${String(options.files.length)} file(s)${incomplete === undefined ? '' : `; ${incomplete}`}${open}${early}${skipped}`);
  const failOn = config.failOn.value;
  const failing = failOn !== 'never' && highest !== undefined && importanceRank(highest) >= importanceRank(failOn);
  if (options.json) {
    // For scripts: the same facts as the lines on stderr, as the last line on stdout.
    io.stdout.write(`${visibleJson({
      detections: count, highestImportance: highest ?? null, byImportance: Object.fromEntries(byImportance), byRecipe: Object.fromEntries(byRecipe),
      incomplete: loss.incomplete, notClosed, files: options.files.length, problems: problems.count, problemsShown: problems.listed,
      outputFailures: session.outputFailures, failOn, failing,
    })}\n`);
  }
  if (failing) {
    session.say(`tripline: failing: detections at or above "${failOn}" (--fail-on)`);
    return EXIT.policy;
  }
  // A missing or broken input is an error, after every detection that could be read was reported.
  return problems.count > 0 ? EXIT.usage : EXIT.ok;
}
