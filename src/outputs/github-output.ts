// GitHub Actions: an annotation per detection (a workflow command), a Markdown job summary
// appended to $GITHUB_STEP_SUMMARY, and step outputs in $GITHUB_OUTPUT. Every string a
// process controls (comm, argv, paths, cwd) is escaped for where it lands.

import { randomBytes } from 'node:crypto';
import { importanceRank, type Importance } from '../model/importance.ts';
import { describeContainer, describePackage, type Detection, type DetectionProcess } from '../model/detection.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import type { DetectionOutput } from './output.ts';
import { appendOutputFile } from './output-file.ts';
import { sensorLossShort, sensorLossText, SensorLossTally, tallyOf } from './sensor-loss-text.ts';
import { visible } from './terminal-text.ts';

/** Workflow-command data: %, CR and LF would end or forge the command. */
export function escapeCommandData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Workflow-command property values: also : and , which separate properties. */
export function escapeCommandProperty(text: string): string {
  return escapeCommandData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * Inline code in Markdown, safe for any text: no Markdown, HTML or autolink inside a code span;
 * the fence is longer than any run of backticks in the text; line breaks and control characters
 * become visible escapes; `|` is escaped so a table cell cannot be split.
 */
export function markdownCode(text: string, inTable = false): string {
  let t = visible(text);
  if (inTable) t = t.replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') || t.startsWith(' ') || t.endsWith(' ') ? ' ' : '';
  return t === '' ? '` `' : `${fence}${pad}${t}${pad}${fence}`;
}

/** A fenced code block that the text cannot close: its fence is longer than any backtick run inside. */
export function markdownBlock(lines: readonly string[]): string {
  const body = lines.map((l) => visible(l)).join('\n');
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${body}\n${fence}`;
}

/** Plain text for Markdown prose: HTML and Markdown punctuation backslash-escaped (CommonMark allows any ASCII punctuation). */
export function markdownText(text: string): string {
  return visible(text).replace(/[\\`*_{}[\]()#+\-.!|<>&~:@/"'=^$%;,?]/g, (c) => `\\${c}`);
}

/** "step build (actions/setup-node@v4)": the workflow step that started the subject, when known. */
export function stepText(d: Detection): string | undefined {
  const step = d.environment.ci?.step;
  if (step === undefined) return undefined;
  return `step ${step.id}${step.action === undefined ? '' : ` (${step.action})`}`;
}

function command(p: DetectionProcess, max = 160): string {
  const c = shellQuote(p.argv.length > 0 ? p.argv : [p.comm]);
  return c.length > max ? `${c.slice(0, max - 3)}...` : c;
}

const LEVEL: Readonly<Record<Importance, 'notice' | 'warning' | 'error'>> = { low: 'notice', medium: 'warning', high: 'error', critical: 'error' };

/**
 * The workflow command of one detection, on one line. Title and message are made visible first
 * (no ESC for the log viewer's ANSI rendering, no bidi override, no CR: a bare CR ends a runner
 * line), then escaped for the command: nothing in them can end the line, so nothing can start a
 * command or a stop-commands token; a `##[` or `::` inside stays data of this command.
 */
export function annotationOf(d: Detection): string {
  const p = d.subject.process;
  const step = stepText(d);
  const who = `${step === undefined ? '' : `${step}: `}${d.subject.package === null ? '' : `${describePackage(d.subject.package)}: `}`;
  const lossText = sensorLossText(d);
  const loss = lossText === undefined ? '' : `${lossText.charAt(0).toUpperCase()}${lossText.slice(1)}. `;
  const message = `${who}${command(p)} (pid ${String(p.pid)}) read ${String(d.evidence.directoryCount)} directories under ${d.evidence.roots.join(', ')}: ${d.evidence.directories.slice(0, 6).join(', ')}. ${loss}${d.guidance.actions[0] ?? ''}`;
  const title = `Tripline: ${d.recipe.id} (${d.recipe.importance})`;
  return `::${LEVEL[d.recipe.importance]} title=${escapeCommandProperty(visible(title))}::${escapeCommandData(visible(message))}`;
}

/** The job summary: a table of detections, then for each the process, ancestry, evidence and guidance. */
/** GitHub drops a step summary above 1 MiB: the table and the details are bounded well below. */
const SUMMARY_ROWS = 200;
const SUMMARY_DETAILS = 30;
const SUMMARY_BYTES = 512 * 1024;

/** `all`: the detections listed (the first ones); `total`: how many there were in all; `loss`: what the sensor missed, over all of them. */
export function summaryOf(all: readonly Detection[], problems: readonly string[] = [], total = all.length, loss: SensorLossTally = tallyOf(all)): string {
  const out: string[] = ['## Tripline', ''];
  const detections = all.slice(0, SUMMARY_ROWS);
  if (total === 0) {
    out.push('No detections.', '');
  } else {
    out.push(`${String(total)} detection(s).${total > detections.length ? ` The first ${String(detections.length)} are listed; all are in the SARIF and JSON output.` : ''}`, '');
    if (loss.incomplete > 0) {
      // Detections can overlap in time, so the events each lived through do not add up: the largest is given.
      const lost = loss.mostLost === 0 ? '' : loss.incomplete === 1
        ? ` ${String(loss.mostLost)} event(s) were lost while its subject ran.`
        : ` Up to ${String(loss.mostLost)} event(s) were lost while one of their subjects ran (subjects overlap in time, so the counts do not add up).`;
      out.push(`**Evidence may be incomplete** for ${String(loss.incomplete)} of ${String(total)} detection(s) (${loss.reason()} while their subjects ran).${lost}`, '');
    }
    out.push('| # | recipe | importance | who | what |', '|---|---|---|---|---|');
    detections.forEach((d, i) => {
      const step = d.environment.ci?.step;
      const inStep = step === undefined ? '' : `step ${markdownCode(step.id, true)}: `;
      const where = describeContainer(d.subject.process.container);
      const inContainer = where === undefined ? '' : ` in ${markdownCode(where, true)}`;
      const who = `${inStep}${d.subject.package === null ? '' : `${markdownCode(describePackage(d.subject.package), true)} `}${markdownCode(command(d.subject.process, 80), true)} pid ${String(d.subject.process.pid)}${inContainer}`;
      const short = sensorLossShort(d);
      const incomplete = short === undefined ? '' : ` — **may be incomplete** (${markdownText(short)})`;
      out.push(`| ${String(i + 1)} | ${markdownText(d.recipe.id)} | ${d.recipe.importance} | ${who} | ${String(d.evidence.directoryCount)} directories under ${markdownCode(d.evidence.roots.join(', '), true)}${incomplete} |`);
    });
    out.push('');
    let bytes = out.join('\n').length;
    detections.slice(0, SUMMARY_DETAILS).forEach((d, i) => {
      if (bytes > SUMMARY_BYTES) return;
      const start = out.length;
      const p = d.subject.process;
      out.push(`### ${String(i + 1)}. ${markdownText(d.recipe.name)} (${markdownText(d.recipe.technique.id)}, ${d.recipe.importance})`, '');
      const step = d.environment.ci?.step;
      if (step !== undefined) out.push(`**Step:** ${markdownCode(step.id)}${step.action === undefined ? '' : ` (${markdownCode(step.action)})`}`, '');
      if (d.subject.package !== null) out.push(`**Package:** ${markdownCode(describePackage(d.subject.package))} in ${markdownCode(d.subject.package.directory)}`, '');
      const container = describeContainer(p.container);
      if (container !== undefined) out.push(`**Container:** ${markdownCode(container)}`, '');
      out.push('**Process**', '', markdownBlock([
        `${String(p.pid)} ${command(p, 400)}`,
        `exe ${p.exe ?? '?'}  cwd ${p.cwd ?? '?'}  uid ${p.uid === null ? '?' : String(p.uid)}`,
        ...d.subject.ancestry.slice(0, 12).map((a) => `  ^ ${String(a.pid)} ${command(a, 200)}`),
      ]), '');
      const lossText = sensorLossText(d);
      if (lossText !== undefined) out.push(`**Sensor:** ${markdownText(lossText)}`, '');
      const counted = d.evidence.files.filter((f) => f.counted).slice(0, 20);
      out.push('**Evidence**', '', markdownBlock([
        `${String(d.evidence.directoryCount)} directories: ${d.evidence.directories.join(', ')}`,
        ...counted.map((f) => `${f.path}  ${f.actions.join('+')} x${String(f.count)}  ${f.result}`),
        ...(d.evidence.files.length > counted.length ? [`... ${String(d.evidence.files.length - counted.length)} more path(s) in the JSON and SARIF`] : []),
      ]), '');
      // The guidance is rendered from the recipe with the process's strings filled in: escaped as prose.
      out.push('**What it means**', '', markdownText(d.guidance.implications), '', '**What to do**', '');
      d.guidance.actions.forEach((a, k) => out.push(`${String(k + 1)}. ${markdownText(a)}`));
      out.push('');
      bytes += out.slice(start).join('\n').length;
    });
    if (detections.length > SUMMARY_DETAILS || bytes > SUMMARY_BYTES) out.push('_Details of further detections are in the SARIF and JSON output._', '');
  }
  // Drops and delivery failures of other outputs (webhook, queue): nothing lost goes unsaid.
  for (const p of problems) out.push(`> ${markdownText(p)}`, '');
  return `${out.join('\n')}\n`;
}

/**
 * Text for the job log that may hold process-controlled strings, with workflow commands
 * suspended around it (a random token resumes them), so neither `::cmd::` at a line start nor
 * the older `##[cmd]` anywhere in a line is obeyed.
 */
export function withoutCommands(text: string): string {
  const token = randomBytes(16).toString('hex');
  return `::stop-commands::${token}\n${text.endsWith('\n') ? text : `${text}\n`}::${token}::\n`;
}

/**
 * Entries for the runner's files ($GITHUB_OUTPUT, $GITHUB_STATE, $GITHUB_ENV): each value in a
 * heredoc with a random delimiter, so no value can forge another entry.
 */
export function runnerFileEntries(values: Readonly<Record<string, string>>): string {
  return Object.entries(values).map(([k, v]) => {
    const delimiter = `TRIPLINE_${randomBytes(12).toString('hex')}`;
    return `${k}<<${delimiter}\n${v}\n${delimiter}\n`;
  }).join('');
}

export interface GithubOutputOptions {
  /** Where annotations go (the runner reads workflow commands from a step's output). */
  readonly annotations: (line: string) => void;
  readonly summaryPath: string | undefined;
  readonly outputPath: string | undefined;
  /** Reported in the `sarif` step output when a SARIF file is written. */
  readonly sarifPath?: string | undefined;
  /** What other outputs could not do (drops, webhook failures), for the summary; asked at close. */
  readonly problems?: () => readonly string[];
}

export class GithubOutput implements DetectionOutput {
  readonly name = 'github';
  /** The first detections, as many as the summary lists: a report of any size keeps no more. */
  private readonly detections: Detection[] = [];
  private count = 0;
  private highest: Importance | undefined;
  /** What the sensor missed, over every detection (not only those listed). */
  private readonly loss = new SensorLossTally();

  constructor(private readonly options: GithubOutputOptions) {}

  closed(d: Detection): void {
    // The annotation first: when it throws, the queue calls again with the same detection.
    this.options.annotations(annotationOf(d));
    this.count++;
    this.loss.add(d);
    if (this.detections.length < SUMMARY_ROWS) this.detections.push(d);
    if (this.highest === undefined || importanceRank(d.recipe.importance) > importanceRank(this.highest)) this.highest = d.recipe.importance;
  }

  close(): void {
    const o = this.options;
    if (o.summaryPath !== undefined) appendOutputFile(o.summaryPath, summaryOf(this.detections, o.problems?.() ?? [], this.count, this.loss));
    if (o.outputPath !== undefined) {
      appendOutputFile(o.outputPath, runnerFileEntries({
        detections: String(this.count), 'highest-importance': this.highest ?? 'none', sarif: o.sarifPath ?? '',
      }));
    }
  }
}
