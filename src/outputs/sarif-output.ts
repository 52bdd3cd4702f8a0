// SARIF 2.1.0: detections as code-scanning alerts (GitHub code scanning, IDE viewers). One rule
// per recipe, one result per final detection, located at the most useful file of the
// repository (the script that ran, its package.json, or the workflow file). The file is opened
// and checked at start (see output-file.ts), written at close.

import { createHash } from 'node:crypto';
import { closeSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Location, Log, ReportingDescriptor, Result } from 'sarif';
import { listSome, renderGuidance, shellQuote, type GuidanceFacts } from '../engine/guidance-renderer.ts';
import { describePackage, type Detection, type DetectionContainer, type DetectionProcess } from '../model/detection.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import type { Importance } from '../model/importance.ts';
import type { Recipe } from '../model/recipe.ts';
import type { DetectionOutput } from './output.ts';
import { markdownText } from './github-output.ts';
import { redactText } from './secret-redactor.ts';
import { sensorLossText } from './sensor-loss-text.ts';
import { openOutputFile } from './output-file.ts';
import { visible } from './terminal-text.ts';
import { PROJECT_URL } from '../model/tripline-project.ts';

/** The project's home page: the driver's informationUri and the base of built-in recipes' documentation. */
export const TRIPLINE_HOME = PROJECT_URL;

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const SRCROOT = '%SRCROOT%';
const FINGERPRINT_KEY = 'trip/v1';
/** Longest attacker-controlled string kept in the file; longer ones are cut. */
const MAX_STRING = 1000;
/** Longest list (directories, files, argv) kept in a result's properties. */
const MAX_LIST = 256;
/** Argv elements per process tried as a file in the workspace (bounds the file look-ups). */
const MAX_ARGV_TRIED = 64;
/** Results kept per file; GitHub shows at most 5,000 per upload. */
const MAX_RESULTS = 5000;

export interface SarifOptions {
  readonly recipes: readonly Recipe[];
  readonly toolVersion: string;
  /** The repository checkout (GITHUB_WORKSPACE); locations are relative to it. */
  readonly workspace?: string | undefined;
  /** The workflow file, relative to the workspace (".github/workflows/ci.yml"). */
  readonly workflowFile?: string | undefined;
  /** Whether a regular file exists at an absolute path; the real filesystem by default. */
  readonly fileExists?: ((path: string) => boolean) | undefined;
  /** Detections already left out by the caller (counted in the run's properties). */
  readonly omitted?: number | undefined;
}

export interface SarifOutputOptions extends Omit<SarifOptions, 'fileExists' | 'omitted'> {
  readonly path: string;
}

/** Collects final detections (no I/O on the way) and writes one SARIF file at close. */
export class SarifOutput implements DetectionOutput {
  readonly name: string;
  private readonly detections: Detection[] = [];
  private omitted = 0;
  /** Opened (and checked) at once, so a path that cannot be written stops the command before it runs. */
  private fd: number | undefined;

  constructor(private readonly options: SarifOutputOptions) {
    this.name = `sarif ${options.path}`;
    this.fd = openOutputFile(options.path);
  }

  closed(detection: Detection): void {
    if (this.detections.length < MAX_RESULTS) this.detections.push(detection);
    else this.omitted++;
  }

  close(): void {
    const log = buildSarif(this.detections, { ...this.options, omitted: this.omitted });
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    try {
      writeFileSync(fd, `${JSON.stringify(log, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
  }
}

export function buildSarif(detections: readonly Detection[], options: SarifOptions): Log {
  const rules = options.recipes.map(ruleOf);
  const ruleIndex = new Map(rules.map((r, i) => [r.id, i]));
  // A detection of a recipe that is not in the list (reloaded away under watch) gets a rule from
  // what the detection itself carries.
  for (const d of detections) {
    if (ruleIndex.has(d.recipe.id)) continue;
    ruleIndex.set(d.recipe.id, rules.length);
    rules.push(ruleOfDetection(d));
  }
  const workspace = options.workspace === undefined || options.workspace === '' ? undefined : resolve(options.workspace);
  const locator: Locator = {
    workspace,
    workflowUri: workflowUri(options.workflowFile, workspace),
    fileExists: options.fileExists ?? isRegularFile,
  };
  const kept = detections.slice(0, MAX_RESULTS);
  const omitted = detections.length - kept.length + (options.omitted ?? 0);
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [{
      tool: {
        driver: {
          name: 'Tripline',
          version: options.toolVersion,
          informationUri: TRIPLINE_HOME,
          rules,
        },
      },
      // The checkout's path (a home directory, a token in a directory name) is redacted like every path of a detection.
      ...(workspace === undefined ? {} : { originalUriBaseIds: { [SRCROOT]: { uri: directoryUri(redactText(workspace)) } } }),
      results: kept.map((d) => resultOf(d, ruleIndex.get(d.recipe.id) ?? 0, locator)),
      ...(omitted > 0 ? { properties: { resultsOmitted: omitted } } : {}),
    }],
  };
}

// ---- rules -------------------------------------------------------------------------------

const SECURITY_SEVERITY: Readonly<Record<Importance, string>> = { low: '3.0', medium: '5.0', high: '7.5', critical: '9.5' };
const LEVEL: Readonly<Record<Importance, 'note' | 'warning' | 'error'>> = { low: 'note', medium: 'warning', high: 'error', critical: 'error' };

/** "os_network_fingerprint" → "OsNetworkFingerprint". */
export function pascalCase(id: string): string {
  return id.split(/[^A-Za-z0-9]+/).filter((w) => w !== '').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/** Words standing in for the placeholders of a recipe's guidance, which a rule's help cannot fill. */
const GENERIC_FACTS: GuidanceFacts = {
  command: 'the reported command',
  comm: 'the reported process',
  pid: 'given in the alert',
  exe: 'its executable',
  cwd: 'its working directory',
  parent: 'its parent process',
  directoryCount: 'several',
  directories: 'see the alert',
  files: 'the files listed in the alert',
  where: 'this pipeline',
  scope: 'the process and the commands it started',
};

function ruleOf(recipe: Recipe): ReportingDescriptor {
  const guidance = renderGuidance(recipe.guidance.ci, GENERIC_FACTS);
  const helpUri = documentationUri(recipe.documentation, recipe.source.startsWith('builtin:'));
  return {
    id: recipe.id,
    name: pascalCase(recipe.id),
    shortDescription: { text: recipe.name },
    fullDescription: { text: recipe.description },
    help: { text: helpText(guidance.implications, guidance.actions), markdown: helpMarkdown(guidance.implications, guidance.actions, helpUri) },
    ...(helpUri === undefined ? {} : { helpUri }),
    defaultConfiguration: { level: LEVEL[recipe.importance] },
    properties: { tags: tagsOf(recipe), 'security-severity': SECURITY_SEVERITY[recipe.importance] },
  };
}

function ruleOfDetection(d: Detection): ReportingDescriptor {
  const helpUri = documentationUri(d.recipe.documentation, false);
  return {
    id: d.recipe.id,
    name: pascalCase(d.recipe.id),
    shortDescription: { text: d.recipe.name },
    fullDescription: { text: d.recipe.description },
    help: { text: d.recipe.description, markdown: escapeMarkdown(d.recipe.description) },
    ...(helpUri === undefined ? {} : { helpUri }),
    defaultConfiguration: { level: LEVEL[d.recipe.importance] },
    properties: { tags: tagsOf(d.recipe), 'security-severity': SECURITY_SEVERITY[d.recipe.importance] },
  };
}

function tagsOf(recipe: Pick<Recipe, 'tactic' | 'technique' | 'related'>): string[] {
  const tags = ['security', recipe.tactic.name, recipe.tactic.id, recipe.technique.id, ...recipe.related.map((r) => r.id)];
  return [...new Set(tags)];
}

/** An http(s) URL as it is; a built-in recipe's relative documentation path on the project's site. */
function documentationUri(documentation: string, builtin: boolean): string | undefined {
  if (/^https?:\/\/\S+$/.test(documentation)) return documentation;
  if (builtin && /^[\w./-]+$/.test(documentation) && !documentation.includes('..')) return `${TRIPLINE_HOME}/blob/main/${documentation.replace(/^\.\//, '')}`;
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function helpText(implications: string, actions: readonly string[]): string {
  return [oneLine(implications), '', 'What to do:', ...actions.map((a, i) => `${i + 1}. ${oneLine(a)}`)].join('\n');
}

/** Backslash-escapes what CommonMark could read as markup (inline, or a block marker at the start), so text shows as written. */
/** Recipe text as Markdown prose: on one line, every punctuation character escaped (the job summary's escaper). */
function escapeMarkdown(text: string): string {
  return markdownText(oneLine(text));
}

function helpMarkdown(implications: string, actions: readonly string[], helpUri: string | undefined): string {
  const lines = [escapeMarkdown(implications), '', '**What to do**', '', ...actions.map((a, i) => `${i + 1}. ${escapeMarkdown(a)}`)];
  if (helpUri !== undefined) lines.push('', `[Documentation](<${helpUri}>)`);
  return lines.join('\n');
}

// ---- results -----------------------------------------------------------------------------

function resultOf(d: Detection, ruleIndex: number, locator: Locator): Result {
  const location = locationOf(d, locator);
  return {
    ruleId: d.recipe.id,
    ruleIndex,
    level: LEVEL[d.recipe.importance],
    message: { text: messageOf(d) },
    locations: [location],
    partialFingerprints: { [FINGERPRINT_KEY]: fingerprintOf(d, location.physicalLocation?.artifactLocation?.uri) },
    properties: evidenceProperties(d),
  };
}

function cut(text: string, max = MAX_STRING): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function commandOf(p: DetectionProcess): string {
  return shellQuote(p.argv.length > 0 ? p.argv : [p.comm]);
}

const ENVIRONMENT_NAME: Readonly<Record<EnvironmentKind, string>> = {
  ci: 'CI', staging: 'staging', production: 'production', development: 'development', unknown: 'an unknown environment',
};

function environmentText(d: Detection): string {
  const ci = d.environment.ci;
  const base = `in ${ENVIRONMENT_NAME[d.environment.kind]}`;
  if (ci === null) return base;
  const named = [ci.repository, ci.workflow === undefined ? undefined : `workflow ${ci.workflow}`, ci.job === undefined ? undefined : `job ${ci.job}`, ci.runId === undefined ? undefined : `run ${ci.runId}`];
  return `${base} (${[ci.provider, ...named].filter((p) => p !== undefined).join(', ')})`;
}

/**
 * Plain text: who did what where, whether the evidence may be incomplete (the sensor lost
 * events or was down meanwhile), then the first thing to do. Controls are shown as escapes.
 */
export function messageOf(d: Detection): string {
  const p = d.subject.process;
  const who = `${cut(commandOf(p), 200)} (pid ${p.pid})`;
  const unit = d.evidence.directoryCount === 1 ? 'directory' : 'directories';
  const what = `explored ${d.evidence.directoryCount} ${unit} under ${listSome(d.evidence.roots, 3)}`;
  const first = d.guidance.actions[0];
  const action = first === undefined ? '' : ` ${cut(oneLine(first), 600)}`;
  // The package responsible comes first, as in every output.
  const pkg = d.subject.package === null ? '' : `${describePackage(d.subject.package)}: `;
  const lossText = sensorLossText(d);
  const loss = lossText === undefined ? '' : ` ${lossText.charAt(0).toUpperCase()}${lossText.slice(1)}.`;
  return visible(`${pkg}${who} ${what} ${environmentText(d)}.${loss}${action}`).replace(/([^.!?])$/, '$1.');
}

/** Stable over re-runs of the same code: the recipe, the executable, and the directories it read. */
export function fingerprintOf(d: Detection, locationUri?: string): string {
  const p = d.subject.process;
  const dirs = [...d.evidence.directories].sort();
  // Two scripts run by the same interpreter are two alerts: the location and the package tell them apart.
  const parts = [d.recipe.id, p.exe ?? p.comm, locationUri ?? '', d.subject.package?.name ?? '', ...dirs];
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32);
}

function processProperties(p: DetectionProcess): Record<string, unknown> {
  return {
    pid: p.pid,
    ppid: p.ppid,
    exe: p.exe === null ? null : cut(p.exe),
    comm: cut(p.comm),
    argv: p.argv.slice(0, MAX_LIST).map((a) => cut(a)),
    argvTruncated: p.argvTruncated || p.argv.length > MAX_LIST,
    cwd: p.cwd === null ? null : cut(p.cwd),
    uid: p.uid,
  };
}

/** The container's runtime and id, and what the runtime said of it, cut to size. */
function containerProperties(c: DetectionContainer | null): Record<string, unknown> | null {
  if (c === null) return null;
  const labels = (l: Readonly<Record<string, string>>): Record<string, string> => Object.fromEntries(Object.entries(l).slice(0, MAX_LIST).map(([k, v]) => [cut(k), cut(v)]));
  return {
    runtime: c.runtime, id: cut(c.id), name: c.name === null ? null : cut(c.name), image: c.image === null ? null : cut(c.image),
    imageDigest: c.imageDigest === null ? null : cut(c.imageDigest), labels: labels(c.labels),
    pod: c.pod === null ? null : { name: cut(c.pod.name), namespace: cut(c.pod.namespace), uid: c.pod.uid === null ? null : cut(c.pod.uid), labels: labels(c.pod.labels) },
  };
}

function evidenceProperties(d: Detection): Record<string, unknown> {
  const counted = d.evidence.files.filter((f) => f.counted).map((f) => f.path);
  return {
    detectionId: d.id,
    time: d.time,
    environment: { kind: d.environment.kind, source: cut(d.environment.source), ci: d.environment.ci },
    scope: d.subject.scope,
    process: processProperties(d.subject.process),
    ancestry: d.subject.ancestry.slice(0, 64).map((a) => ({ pid: a.pid, command: cut(commandOf(a)) })),
    // Under watch: the subject's container and pod (null on the host); absent when not looked at.
    ...(d.subject.process.container === undefined ? {} : { container: containerProperties(d.subject.process.container) }),
    roots: d.evidence.roots,
    directories: d.evidence.directories.slice(0, MAX_LIST).map((x) => cut(x)),
    directoryCount: d.evidence.directoryCount,
    countedFiles: counted.slice(0, MAX_LIST).map((x) => cut(x)),
    countedFilesOmitted: Math.max(0, counted.length - MAX_LIST),
    filesOmitted: d.evidence.filesOmitted,
    accessCount: d.evidence.accessCount,
    first: d.evidence.first,
    last: d.evidence.last,
    configurationChanged: d.evidence.configurationChanged,
    // What the sensor missed while the subject was live; complete: false means the evidence may be incomplete.
    sensor: {
      name: cut(d.sensor.name),
      version: d.sensor.version === null ? null : cut(d.sensor.version),
      eventsLost: d.sensor.eventsLost,
      gaps: d.sensor.gaps.slice(0, MAX_LIST).map((g) => ({ start: cut(g.start), end: g.end === null ? null : cut(g.end) })),
      complete: d.sensor.complete,
    },
  };
}

// ---- locations ---------------------------------------------------------------------------

interface Locator {
  readonly workspace: string | undefined;
  readonly workflowUri: string | undefined;
  readonly fileExists: (path: string) => boolean;
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/** `path` relative to `root` when it lies strictly inside it, else undefined. */
function inside(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel;
}

/** A relative path as a relative URI reference (each segment percent-encoded). */
function relativeUri(rel: string): string {
  return rel.split(sep).map(encodeURIComponent).join('/');
}

function directoryUri(dir: string): string {
  const href = pathToFileURL(dir).href;
  return href.endsWith('/') ? href : `${href}/`;
}

function workflowUri(workflowFile: string | undefined, workspace: string | undefined): string | undefined {
  if (workflowFile === undefined || workflowFile === '') return undefined;
  if (!isAbsolute(workflowFile)) {
    const rel = normalize(workflowFile);
    return rel === '.' || rel === '..' || rel.startsWith(`..${sep}`) ? undefined : relativeUri(rel);
  }
  const rel = workspace === undefined ? undefined : inside(workspace, workflowFile);
  return rel === undefined ? undefined : relativeUri(rel);
}

/** A file of the workspace named on a command line of the chain: the script that ran. */
function scriptIn(workspace: string, chain: readonly DetectionProcess[], fileExists: (path: string) => boolean): string | undefined {
  for (const p of chain) {
    for (const arg of p.argv.slice(0, MAX_ARGV_TRIED)) {
      if (arg === '' || arg.startsWith('-') || arg.length > 4096 || arg.includes('\0')) continue;
      if (!isAbsolute(arg) && p.cwd === null) continue;
      const path = resolve(p.cwd ?? '/', arg);
      const rel = inside(workspace, path);
      if (rel !== undefined && fileExists(path)) return rel;
    }
  }
  return undefined;
}

/** The package.json of the project whose node_modules/ holds a dependency's directory, if inside the workspace. */
function projectManifest(workspace: string, dependencyDir: string, fileExists: (path: string) => boolean): string | undefined {
  const top = dependencyDir.indexOf('/node_modules/');
  if (top < 0) return undefined;
  const candidate = join(dependencyDir.slice(0, top), 'package.json');
  const rel = inside(workspace, candidate);
  return rel !== undefined && fileExists(candidate) ? rel : undefined;
}

/** The nearest package.json from a working directory of the chain up to the workspace root. */
function packageIn(workspace: string, chain: readonly DetectionProcess[], fileExists: (path: string) => boolean): string | undefined {
  for (const p of chain) {
    if (p.cwd === null) continue;
    let dir = resolve(p.cwd);
    if (dir !== workspace && inside(workspace, dir) === undefined) continue;
    for (;;) {
      const candidate = join(dir, 'package.json');
      if (fileExists(candidate)) return relative(workspace, candidate);
      if (dir === workspace) break;
      dir = resolve(dir, '..');
    }
  }
  return undefined;
}

/**
 * The most useful file for the alert: a script of the workspace that ran, else the package.json
 * the commands ran in, else the workflow file. GitHub code scanning rejects a result without a
 * location (validator rules GH1015/GH1017), and the Gh rules accept any relative URI, existing
 * or not; with neither workspace nor workflow file the alert is put on "tripline.yaml", the
 * configuration a repository keeps Tripline's exceptions in, which is where a reader would act
 * on it (code scanning shows the alert even when that file does not exist).
 */
function locationOf(d: Detection, locator: Locator): Location {
  const { workspace, fileExists } = locator;
  const chain = [d.subject.process, ...d.subject.ancestry];
  // A dependency's lifecycle script: the package.json that brought the dependency in (the
  // project's, above node_modules/) is where a reader acts; node_modules is not in the repository.
  const pkg = d.subject.package;
  const project = pkg === null || workspace === undefined ? undefined : projectManifest(workspace, pkg.directory, fileExists);
  const found = workspace === undefined ? undefined : (project ?? scriptIn(workspace, chain, fileExists) ?? packageIn(workspace, chain, fileExists));
  const uri = found === undefined ? (locator.workflowUri ?? 'tripline.yaml') : relativeUri(found);
  return { physicalLocation: { artifactLocation: { uri, uriBaseId: SRCROOT }, region: { startLine: 1 } } };
}
