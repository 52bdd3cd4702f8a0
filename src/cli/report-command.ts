// `tripline report FILE.jsonl...`: the detections a run or a watch wrote, sent to the outputs
// (SARIF, JUnit, GitHub annotations and job summary, webhook) after the fact. The GitHub
// Action's post step uses it; so can any pipeline that keeps the JSONL of its steps.

import { loadTriplineConfig } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { Detection } from '../model/detection.ts';
import { importanceRank, isImportance } from '../model/importance.ts';
import { readDocumentFile } from '../documents/document-file.ts';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { withoutCommands } from '../outputs/github-output.ts';
import { formatDetection } from '../outputs/text-report.ts';
import { DetectionSession } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { REPORT_HELP } from './help-text.ts';
import type { RecipesIo } from './recipes-command.ts';
import { parseCommandOptions } from './command-options.ts';
import { UsageError } from './usage-error.ts';

interface ReportOptions {
  readonly config: string | undefined;
  readonly outputs: string[];
  readonly failOn: string | undefined;
  readonly quiet: boolean;
  readonly files: string[];
}

function parseReportOptions(args: readonly string[]): ReportOptions | 'help' {
  const o = parseCommandOptions('report', args, { values: ['config', 'fail-on'], repeatable: ['output'], flags: ['quiet'] }, true);
  if (o.help) return 'help';
  const failOn = o.values.get('fail-on');
  if (failOn !== undefined && failOn !== 'never' && !isImportance(failOn)) throw new UsageError(`report: --fail-on "${failOn}" is not a level; use never, low, medium, high or critical`);
  if (o.positionals.length === 0) throw new UsageError('report: give one or more JSONL files written by tripline run or watch (--jsonl)');
  return { config: o.values.get('config'), outputs: [...(o.lists.get('output') ?? [])], failOn, quiet: o.flags.has('quiet'), files: [...o.positionals] };
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

/** Every detection of the files; a line that is not one is an error naming file and line. */
function readDetections(files: readonly string[]): Detection[] {
  const out: Detection[] = [];
  for (const file of files) {
    const read = readDocumentFile(file);
    if ('error' in read) {
      // A step that made no detection may have left no file: that is an empty report, not an error.
      if (read.error.includes('ENOENT')) continue;
      throw new UsageError(`report: ${file}: ${read.error}`);
    }
    read.text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new UsageError(`report: ${file}:${String(i + 1)}: not JSON: ${(error as Error).message}`);
      }
      const problem = isDetection(value);
      if (problem !== undefined) throw new UsageError(`report: ${file}:${String(i + 1)}: not a valid tripline.detection/v1 object: ${problem}`);
      out.push(value as Detection);
    });
  }
  return out;
}

export async function reportCommand(args: readonly string[], io: RecipesIo): Promise<number> {
  const options = parseReportOptions(args);
  if (options === 'help') {
    io.stderr.write(`${REPORT_HELP}\n`);
    return EXIT.ok;
  }
  const detections = readDetections(options.files);
  const config = loadTriplineConfig({ config: options.config, outputs: options.outputs, failOn: options.failOn }, io.env, io.cwd);
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  // The JSONL files are the input here: never write them again.
  const outputs = { ...config.outputs, jsonl: { value: undefined, source: 'report' } };
  const session = new DetectionSession({
    command: 'report', environment: config.environment, recipes: config.loadedRecipes, outputs, notices: false,
    sensor: { name: 'report', version: null },
    annotations: (line) => { io.stdout.write(`${line}\n`); },
  }, io);
  session.deliver(detections);
  await session.finish();
  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  if (!options.quiet && session.finals.length > 0) {
    const text = session.finals.map((d) => `\n${formatDetection(d, session.palette, width)}\n`).join('');
    // In a GitHub job log, process-controlled text must not be able to issue workflow commands.
    session.say(io.env.GITHUB_ACTIONS === 'true' ? withoutCommands(text) : text);
  }
  for (const w of session.outputFailures) session.say(`tripline: warning: ${w}`);
  session.say(`tripline: ${String(session.finals.length)} detection(s) from ${String(options.files.length)} file(s)`);
  const failOn = config.failOn.value;
  if (failOn !== 'never' && session.finals.some((d) => importanceRank(d.recipe.importance) >= importanceRank(failOn))) {
    session.say(`tripline: failing: detections at or above "${failOn}" (--fail-on)`);
    return EXIT.policy;
  }
  return EXIT.ok;
}
