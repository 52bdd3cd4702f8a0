// The human report printed when the wrapped command ends: per detection who did it, what was
// touched, what it means where it happened, and what to do.

import { describeContainer, describePackage, type Detection, type DetectionProcess, type EvidenceFile } from '../model/detection.ts';
import { documentationLink } from '../model/tripline-project.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import type { Palette } from './palette.ts';
import { redactArgv } from './secret-redactor.ts';
import { sensorLossText, tallyOf } from './sensor-loss-text.ts';
import { visible } from './terminal-text.ts';

export interface RunSummary {
  readonly command: readonly string[];
  readonly exit: string;
  /** How long the command ran (the sensor's attach and detach excluded: they are given apart). */
  readonly durationMs: number;
  readonly sensor: string;
  /** How long the sensor took to attach before the command started, and to detach after it ended (eBPF). */
  readonly attachMs?: number | undefined;
  readonly detachMs?: number | undefined;
  readonly lines: number;
  readonly unparsed: number;
  readonly unparsedSamples: readonly { line: number; reason: string; text: string }[];
  readonly warnings: readonly string[];
  /** Events the sensor lost in the whole run (its loss ledger), whether or not a detection's subject was live then. */
  readonly sensorLost?: number;
}

const FILES_SHOWN = 12;

function formatDuration(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(0)} s`;
}

function wrap(text: string, width: number, indent: string): string {
  const words = text.split(/\s+/).filter((w) => w !== '');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}

function processLine(p: DetectionProcess): string {
  const cmd = visible(shellQuote(p.argv.length > 0 ? p.argv : [p.comm]));
  return `${p.pid} ${cmd.length > 100 ? `${cmd.slice(0, 97)}...` : cmd}`;
}

function fileLine(f: EvidenceFile, palette: Palette): string {
  const result = f.result === 'ok' ? 'ok' : palette.dim(f.result);
  const mark = f.counted ? ' ' : palette.dim('·');
  const spelled = f.spelledAs.length > 0 ? palette.dim(` (as ${f.spelledAs.map(visible).join(', ')})`) : '';
  return `${mark} ${visible(f.path)}  ${f.actions.join('+')} ×${f.count}  ${result}  pid ${f.pids.join(',')}${spelled}`;
}

export function formatDetection(d: Detection, palette: Palette, width: number): string {
  const indent = ' '.repeat(12);
  const textWidth = Math.max(40, width - indent.length);
  const p = d.subject.process;
  const out: string[] = [];
  const mitre = `${d.recipe.tactic.name} (${d.recipe.tactic.id}) · ${d.recipe.technique.name} (${d.recipe.technique.id})`;
  out.push(`${palette.bold(palette.yellow(`● ${d.recipe.id}`))} — ${d.recipe.name}  [${d.recipe.importance}]  ${palette.dim(mitre)}`);
  const scope = d.subject.scope === 'process' ? 'the process itself' : `the process and the commands it started (${d.subject.members.length + 1} processes)`;
  if (d.subject.package !== null) {
    out.push(`  ${'package'.padEnd(9)} ${palette.bold(visible(describePackage(d.subject.package)))} (${d.subject.package.manager}, ${visible(d.subject.package.directory)})`);
  }
  out.push(`  ${'who'.padEnd(9)} pid ${processLine(p)}`);
  out.push(`${indent}exe ${visible(p.exe ?? '?')}, uid ${p.uid ?? '?'}, cwd ${visible(p.cwd ?? '?')}; counted: ${scope}`);
  const container = describeContainer(p.container);
  if (container !== undefined) out.push(`  ${'where'.padEnd(9)} ${palette.bold(visible(container))}`);
  if (d.subject.ancestry.length > 0) {
    out.push(`  ${'ancestry'.padEnd(9)} ${d.subject.ancestry.map((a) => processLine(a)).join(`\n${indent}← `)}`);
  }
  if (d.subject.members.length > 0) {
    out.push(`  ${'members'.padEnd(9)} ${d.subject.members.slice(0, 8).map(processLine).join(`\n${indent}`)}${d.subject.members.length > 8 ? `\n${indent}... and ${d.subject.members.length - 8} more` : ''}`);
  }
  // Before the evidence it qualifies: what the sensor missed while the subject was live.
  const loss = sensorLossText(d);
  if (loss !== undefined) out.push(`  ${palette.bold(palette.red('sensor'.padEnd(9)))} ${palette.red(wrap(visible(loss), textWidth, indent))}`);
  const spanMs = Date.parse(d.evidence.last) - Date.parse(d.evidence.first);
  const change = d.evidence.configurationChanged ? palette.red(', and WROTE settings (configuration changed)') : '';
  out.push(`  ${'what'.padEnd(9)} ${d.evidence.directoryCount} directories under ${d.evidence.roots.join(', ')} in ${spanMs.toFixed(0)} ms (${d.evidence.accessCount} accesses)${change}`);
  out.push(`${indent}${wrap(d.evidence.directories.map(visible).join(' '), textWidth, indent)}`);
  for (const f of d.evidence.files.slice(0, FILES_SHOWN)) out.push(`${indent}${fileLine(f, palette)}`);
  const more = d.evidence.files.length - FILES_SHOWN + d.evidence.filesOmitted;
  if (more > 0) {
    const where = d.evidence.filesOmitted === 0
      ? 'all of them in the JSON event'
      : `the JSON event lists ${d.evidence.files.length} paths and counts ${d.evidence.filesOmitted} more`;
    out.push(`${indent}${palette.dim(`... and ${more} more paths (${where})`)}`);
  }
  const ci = d.environment.ci;
  const ciText = ci === null ? '' : ` — ${[ci.provider, ci.repository, ci.workflow, ci.job, ci.runId === undefined ? undefined : `run ${ci.runId}`].filter((x) => x !== undefined).join(', ')}`;
  out.push(`  ${'where'.padEnd(9)} ${d.environment.kind} (${d.environment.source})${ciText}, host ${d.host.hostname}`);
  out.push(`  ${'meaning'.padEnd(9)} ${wrap(visible(d.guidance.implications), textWidth, indent)}`);
  d.guidance.actions.forEach((a, i) => {
    out.push(`${i === 0 ? `  ${'do'.padEnd(9)} ` : indent}${i + 1}. ${wrap(visible(a), textWidth - 3, `${indent}   `)}`);
  });
  out.push(`  ${'docs'.padEnd(9)} ${visible(documentationLink(d.recipe.documentation))}   id ${visible(d.id)}`);
  return out.join('\n');
}

export function formatReport(detections: readonly Detection[], summary: RunSummary, palette: Palette, width: number): string {
  const out: string[] = [];
  // The wrapped command line is as secret-prone as any argv (a token passed as an argument).
  const cmd = visible(shellQuote(redactArgv(summary.command)));
  const head = `${detections.length} detection${detections.length === 1 ? '' : 's'} in ${cmd.length > 80 ? `${cmd.slice(0, 77)}...` : cmd}`;
  out.push(`${palette.bold('tripline:')} ${detections.length > 0 ? palette.yellow(head) : head} (${summary.exit}, ${formatDuration(summary.durationMs)}, ${summary.sensor}${summary.attachMs === undefined ? '' : `, attach ${formatDuration(summary.attachMs)}`}${summary.detachMs === undefined ? '' : `, detach ${formatDuration(summary.detachMs)}`}, ${summary.lines} trace lines)`);
  for (const w of summary.warnings) out.push(`${palette.red('warning:')} ${w}`);
  if (summary.unparsed > 0) {
    out.push(palette.dim(`note: ${summary.unparsed} trace line(s) could not be parsed and were skipped; first ones:`));
    for (const s of summary.unparsedSamples) out.push(palette.dim(`  line ${s.line}: ${s.reason}: ${visible(s.text)}`));
  }
  for (const d of detections) {
    out.push('');
    out.push(formatDetection(d, palette, width));
  }
  const footer = sensorLossFooter(detections, summary.sensorLost ?? 0);
  if (footer !== undefined) out.push('', `${palette.bold('tripline:')} ${palette.red(footer)}`);
  return out.join('\n');
}

/**
 * The report's last line when the sensor lost anything: how many detections may be incomplete
 * and how many events the sensor lost in the run. Undefined when nothing was lost.
 */
export function sensorLossFooter(detections: readonly Detection[], sensorLost: number): string | undefined {
  const tally = tallyOf(detections);
  const parts: string[] = [];
  if (tally.incomplete > 0) parts.push(`${String(tally.incomplete)} of ${String(detections.length)} detection(s) may be incomplete (${tally.reason()})`);
  if (sensorLost > 0) parts.push(`the sensor lost ${String(sensorLost)} event(s) in this run: what they held was not analysed${detections.length === 0 ? ', so a detection may have been missed' : ''}`);
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** `run --quiet`'s one line: "tripline: 3 detection(s); 1 incomplete (sensor lost events); WARNINGS", or undefined when there is nothing to say. */
export function formatQuietSummary(detections: readonly Detection[], warnings: readonly string[]): string | undefined {
  const incomplete = tallyOf(detections).brief();
  if (detections.length === 0 && warnings.length === 0 && incomplete === undefined) return undefined;
  return `tripline: ${String(detections.length)} detection(s)${[...(incomplete === undefined ? [] : [incomplete]), ...warnings].map((w) => `; ${w}`).join('')}`;
}
