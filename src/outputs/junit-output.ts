// JUnit XML for CI test-report views (GitLab, Jenkins, Azure DevOps): one failing test case per
// detection, one passing test case per recipe that did not fire. Written once at the end, from
// detections the session has already redacted (CI reports are shown to everyone with access);
// each case is rendered as its detection comes, within a bound, so memory stays flat under watch.

import { closeSync, writeFileSync } from 'node:fs';
import { describePackage, type Detection, type DetectionProcess } from '../model/detection.ts';
import type { Recipe } from '../model/recipe.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import type { DetectionOutput } from './output.ts';
import { openOutputFile } from './output-file.ts';
import { sensorLossShort, sensorLossText } from './sensor-loss-text.ts';
import { visible } from './terminal-text.ts';

export interface JunitOutputOptions {
  readonly path: string;
  /** Every recipe that was watched: those without a detection are reported as passing. */
  readonly recipes: readonly Recipe[];
  /** The test suite's name; "tripline" by default. */
  readonly name?: string;
}

export class JunitOutput implements DetectionOutput {
  readonly name: string;
  /** Test cases rendered as detections come (bounded), never the detections themselves. */
  private readonly cases = new JunitCases();
  /** Opened (and checked) at once, so a path that cannot be written stops the command before it runs. */
  private fd: number | undefined;

  constructor(private readonly options: JunitOutputOptions) {
    this.name = `junit ${options.path}`;
    this.fd = openOutputFile(options.path);
  }

  closed(detection: Detection): void {
    // The session redacts every detection before any output sees it.
    this.cases.add(detection);
  }

  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    try {
      writeFileSync(fd, this.cases.xml(this.options.recipes, this.options.name ?? 'tripline'));
    } finally {
      closeSync(fd);
    }
  }
}

/** Characters XML 1.0 does not allow at all, even as references (lone surrogates need the u flag). */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/u;

function visibleEscape(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };
const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = { ...TEXT_ESCAPES, '\n': '&#10;', '\t': '&#9;' };

function escaper(escapes: Readonly<Record<string, string>>): (text: string) => string {
  const special = new RegExp(`[${Object.keys(escapes).join('')}]|${NOT_XML.source}`, 'gu');
  return (text) => text.replace(special, (c) => escapes[c] ?? visibleEscape(c));
}

const escapeText = escaper(TEXT_ESCAPES);
const escapeAttribute = escaper(ATTRIBUTE_ESCAPES);

/** Text content: markup characters as entities, characters XML forbids as visible `\x1b` escapes. */
export function escapeXmlText(text: string): string {
  return escapeText(text);
}

/** An attribute value: as text, plus newlines and tabs as references so a reader keeps them. */
export function escapeXmlAttribute(text: string): string {
  return escapeAttribute(text);
}

function commandOf(p: DetectionProcess): string {
  return visible(shellQuote(p.argv.length > 0 ? p.argv : [p.comm]));
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

function processLine(p: DetectionProcess): string {
  return `pid ${p.pid} ${cut(commandOf(p), 300)}`;
}

/** The one-line summary: recipe, importance, command, pid, breadth, and whether the evidence may be incomplete. */
function failureMessage(d: Detection): string {
  const p = d.subject.process;
  const loss = sensorLossShort(d);
  const incomplete = loss === undefined ? '' : `; evidence may be incomplete (${loss})`;
  return `${d.recipe.id} (${d.recipe.importance}): ${cut(commandOf(p), 200)} (pid ${p.pid}) touched ${d.evidence.directoryCount} directories under ${d.evidence.roots.join(', ')}${incomplete}`;
}

function paths(n: number): string {
  return n === 1 ? '1 path' : `${n} paths`;
}

/** The whole report of one detection, as plain text (the failure's body). */
export function failureText(d: Detection): string {
  const p = d.subject.process;
  const out: string[] = [];
  out.push(`${d.recipe.id} — ${d.recipe.name} [${d.recipe.importance}] ${d.recipe.tactic.name} (${d.recipe.tactic.id}) · ${d.recipe.technique.name} (${d.recipe.technique.id})`);
  out.push(`detection ${d.id} at ${d.time}`);
  out.push(`process: ${processLine(p)}`);
  out.push(`  exe ${visible(p.exe ?? '?')}, uid ${p.uid ?? '?'}, cwd ${visible(p.cwd ?? '?')}, counted: ${d.subject.scope}`);
  if (d.subject.package !== null) out.push(`package: ${visible(describePackage(d.subject.package))} in ${visible(d.subject.package.directory)}`);
  if (d.subject.ancestry.length > 0) out.push('ancestry (parent first):', ...d.subject.ancestry.map((a) => `  ${processLine(a)}`));
  if (d.subject.members.length > 0) out.push('other processes in the evidence:', ...d.subject.members.map((m) => `  ${processLine(m)}`));
  const loss = sensorLossText(d);
  if (loss !== undefined) out.push(`sensor: ${loss}`);
  const change = d.evidence.configurationChanged ? ', and wrote settings (configuration changed)' : '';
  out.push(`what: ${d.evidence.directoryCount} directories under ${d.evidence.roots.join(', ')} from ${d.evidence.first} to ${d.evidence.last} (${d.evidence.accessCount} accesses)${change}`);
  out.push('directories:', ...d.evidence.directories.map((dir) => `  ${visible(dir)}`));
  const counted = d.evidence.files.filter((f) => f.counted);
  out.push(`counted files (${counted.length}):`);
  for (const f of counted) out.push(`  ${visible(f.path)}  ${f.actions.join('+')} x${f.count}  ${f.result}  pid ${f.pids.join(',')}`);
  const notCounted = d.evidence.files.length - counted.length;
  if (notCounted > 0) out.push(`  (and ${paths(notCounted)} seen but not counted, listed in the JSON event)`);
  if (d.evidence.filesOmitted > 0) out.push(`  (and ${paths(d.evidence.filesOmitted)} not listed, the list was full)`);
  const ci = d.environment.ci;
  const ciText = ci === null ? '' : ` — ${[ci.provider, ci.repository, ci.workflow, ci.job, ci.runId === undefined ? undefined : `run ${ci.runId}`, ci.url].filter((x) => x !== undefined).map(visible).join(', ')}`;
  out.push(`where: ${d.environment.kind} (${visible(d.environment.source)})${ciText}, host ${visible(d.host.hostname)}`);
  out.push(`meaning: ${visible(d.guidance.implications)}`);
  out.push('what to do:', ...d.guidance.actions.map((a, i) => `  ${i + 1}. ${visible(a)}`));
  out.push(`docs: ${d.recipe.documentation}`);
  return out.join('\n');
}

interface TestCase {
  readonly classname: string;
  readonly name: string;
  readonly failure?: { readonly message: string; readonly type: string; readonly text: string };
}

/** Failing test cases kept per report; later detections are counted in one more failing case. */
export const MAX_JUNIT_CASES = 5_000;
/** Characters of failure text kept per report (a daemon's JUnit file must not grow its memory without end). */
export const MAX_JUNIT_TEXT = 8 * 1024 * 1024;
/** Characters of one detection's failure text; the JSON event has all of it. */
const MAX_FAILURE_TEXT = 64 * 1024;

/**
 * One test case per detection rather than several <failure> elements in one case: Jenkins
 * reads only the first failure of a case, and GitLab keeps one result per case name. The name
 * is "<recipe id>: <command>" without the pid, so the same finding has the same name in every
 * pipeline and GitLab's merge-request widget and Jenkins' history can tell new failures from
 * old ones; a repeat within one report gets " #2", " #3" (names must be unique, or GitLab
 * merges them). The pid is in the failure message.
 *
 * Cases are rendered as detections arrive and only the text is kept, within MAX_JUNIT_CASES
 * and MAX_JUNIT_TEXT; what comes after is counted, per recipe, and reported as one more
 * failing case, so a long `watch` with a JUnit output keeps a bounded memory.
 */
class JunitCases {
  /** Failing cases by recipe id, in order of arrival. */
  private readonly fired = new Map<string, TestCase[]>();
  private readonly names = new Map<string, number>();
  private readonly omitted = new Map<string, number>();
  private kept = 0;
  private text = 0;

  add(d: Detection): void {
    const id = d.recipe.id;
    const full = failureText(d);
    const text = full.length > MAX_FAILURE_TEXT ? `${full.slice(0, MAX_FAILURE_TEXT)}\n... (cut: the JSON event of detection ${d.id} has all of it)` : full;
    if (this.kept >= MAX_JUNIT_CASES || this.text + text.length > MAX_JUNIT_TEXT) {
      this.omitted.set(id, (this.omitted.get(id) ?? 0) + 1);
      return;
    }
    this.kept++;
    this.text += text.length;
    const list = this.fired.get(id) ?? [];
    this.fired.set(id, list);
    list.push({
      classname: `tripline.${id}`,
      name: this.uniqueName(`${id}: ${cut(commandOf(d.subject.process), 100)}`),
      failure: { message: failureMessage(d), type: d.recipe.importance, text },
    });
  }

  /** Every recipe watched or fired, in that order: its failing cases, or one passing case. */
  cases(recipes: readonly Recipe[]): TestCase[] {
    const ids = [...new Set([...recipes.map((r) => r.id), ...this.fired.keys(), ...this.omitted.keys()])];
    return ids.flatMap((id): TestCase[] => {
      const classname = `tripline.${id}`;
      const fired = this.fired.get(id) ?? [];
      const omitted = this.omitted.get(id) ?? 0;
      if (omitted > 0) {
        const why = `the report keeps at most ${String(MAX_JUNIT_CASES)} detections and ${String(MAX_JUNIT_TEXT / 1024 / 1024)} MiB of text`;
        return [...fired, {
          classname, name: `${id}: ${String(omitted)} more detection(s) not listed`,
          failure: { message: `${id}: ${String(omitted)} more detection(s) not listed: ${why}`, type: 'omitted', text: `${String(omitted)} more detection(s) of ${id} are not in this report (${why}); the JSON Lines output has every one.` },
        }];
      }
      if (fired.length > 0) return fired;
      const recipe = recipes.find((r) => r.id === id);
      return [{ classname, name: `${id}: ${recipe?.name ?? id}` }];
    });
  }

  xml(recipes: readonly Recipe[], suiteName: string): string {
    const cases = this.cases(recipes);
    const failures = cases.filter((c) => c.failure !== undefined).length;
    const counts = `tests="${cases.length}" failures="${failures}" errors="0"`;
    const name = escapeXmlAttribute(suiteName);
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<testsuites name="${name}" ${counts}>`,
      `  <testsuite name="${name}" ${counts} skipped="0">`,
      ...cases.map(testCaseXml),
      '  </testsuite>',
      '</testsuites>',
      '',
    ].join('\n');
  }

  private uniqueName(name: string): string {
    const seen = (this.names.get(name) ?? 0) + 1;
    this.names.set(name, seen);
    return seen === 1 ? name : `${name} #${String(seen)}`;
  }
}

function testCaseXml(c: TestCase): string {
  const open = `    <testcase classname="${escapeXmlAttribute(c.classname)}" name="${escapeXmlAttribute(c.name)}"`;
  if (c.failure === undefined) return `${open}/>`;
  const f = c.failure;
  return [
    `${open}>`,
    `      <failure message="${escapeXmlAttribute(f.message)}" type="${escapeXmlAttribute(f.type)}">${escapeXmlText(f.text)}</failure>`,
    '    </testcase>',
  ].join('\n');
}

/** The JUnit XML document for these detections, with a passing case for each recipe that did not fire. */
export function buildJunit(detections: readonly Detection[], recipes: readonly Recipe[], suiteName: string): string {
  const cases = new JunitCases();
  for (const d of detections) cases.add(d);
  return cases.xml(recipes, suiteName);
}
