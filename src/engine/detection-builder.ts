// Assembles the tripline.detection/v1 event from the recipe, the subject's process facts,
// the accumulated evidence and the context (environment, host, sensor).

import { DETECTION_SCHEMA, type Detection, type DetectionProcess } from '../model/detection.ts';
import type { DetectionContext } from '../model/detection-context.ts';
import type { Environment } from '../model/environment.ts';
import { commandName, type ProcessInfo } from '../model/process-info.ts';
import { scopeWindowMs, type Recipe, type SubjectScope } from '../model/recipe.ts';
import type { EvidenceSummary } from './evidence-accumulator.ts';
import type { LossWindow } from './sensor-loss-ledger.ts';
import { listSome, renderGuidance, shellQuote, type GuidanceFacts } from './guidance-renderer.ts';

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

export function describeProcess(p: ProcessInfo): DetectionProcess {
  const exitTime = iso(p.exitMs);
  return {
    pid: p.pid,
    ppid: p.ppid ?? null,
    exe: p.exe ?? null,
    comm: commandName(p),
    argv: [...p.argv],
    argvTruncated: p.argvTruncated,
    cwd: p.cwd ?? null,
    uid: p.uid ?? null,
    start: iso(p.startMs),
    exit: exitTime === null ? null : { time: exitTime, code: p.exitCode ?? null, signal: p.exitSignal ?? null },
  };
}

/**
 * How many of the ancestors (from the top) the kernel started: kthreadd (pid 2 of the host's
 * pid namespace, no executable, no parent) and the kernel threads below it, which have no
 * executable either. In the host's pid namespace only the kernel descends from pid 2: a
 * core_pattern pipe helper or another usermode helper is forked by a kernel worker.
 */
function kernelAncestors(ancestry: readonly ProcessInfo[]): number {
  const top = ancestry[ancestry.length - 1];
  if (top?.pid !== 2 || top.ppid !== undefined || top.exe !== undefined) return 0;
  let n = 1;
  while (n < ancestry.length && ancestry[ancestry.length - 1 - n]?.exe === undefined) n++;
  return n;
}

function describeKernelThread(p: ProcessInfo): DetectionProcess {
  return { ...describeProcess(p), comm: p.pid === 2 ? 'kthreadd' : 'kernel thread' };
}

export interface DetectionParts {
  readonly id: string;
  /** 1 when opened, one more for each revision emitted since. */
  readonly revision: number;
  readonly state: Detection['state'];
  readonly firedMs: number;
  readonly recipe: Recipe;
  readonly scope: SubjectScope;
  readonly subject: ProcessInfo;
  readonly ancestry: readonly ProcessInfo[];
  readonly members: readonly ProcessInfo[];
  readonly evidence: EvidenceSummary;
  readonly context: DetectionContext;
  /** What the sensor missed while the subject was live (nothing when absent). */
  readonly missed?: LossWindow;
}

function whereText(env: Environment): string {
  const ci = env.ci;
  if (ci === undefined) {
    if (env.kind === 'ci') return 'this pipeline';
    return env.kind === 'unknown' ? 'this host' : `this ${env.kind} host`;
  }
  const parts = [ci.job === undefined ? undefined : `job "${ci.job}"`, ci.workflow === undefined ? undefined : `workflow "${ci.workflow}"`, ci.repository];
  const named = parts.filter((p): p is string => p !== undefined);
  return `${ci.provider} ${named.length > 0 ? named.join(' of ') : 'pipeline'}${ci.runId === undefined ? '' : ` (run ${ci.runId})`}`;
}

export function buildDetection(parts: DetectionParts): Detection {
  const { recipe, subject, evidence, context } = parts;
  // The subject's own environment where the context knows one (a container's label), else the run's.
  const environment = context.environmentOf?.(subject, parts.ancestry) ?? context.environment;
  const argv = subject.argv.length > 0 ? subject.argv : [commandName(subject)];
  const command = shellQuote(argv);
  const parent = parts.ancestry[0];
  const kernel = kernelAncestors(parts.ancestry);
  const byKernel = kernel > 0 && kernel === parts.ancestry.length;
  const facts: GuidanceFacts = {
    command: command.length > 100 ? `${command.slice(0, 97)}...` : command,
    comm: commandName(subject),
    pid: String(subject.pid),
    exe: subject.exe ?? commandName(subject),
    cwd: subject.cwd ?? 'an unknown directory',
    parent: parent === undefined ? 'tripline itself' : byKernel ? `the kernel as a usermode helper (kernel thread pid ${parent.pid})` : `${shellQuote(parent.argv.length > 0 ? parent.argv : [commandName(parent)]).slice(0, 120)} (pid ${parent.pid})`,
    directoryCount: String(evidence.directories.length),
    directories: listSome(evidence.directories, 4),
    files: listSome(evidence.files.filter((f) => f.counted).map((f) => f.path), 3),
    where: whereText(environment),
    scope: parts.scope === 'process' ? 'the process itself' : 'the process and the commands it started',
  };
  const guidance = renderGuidance(recipe.guidance[environment.kind], facts);
  return {
    schema: DETECTION_SCHEMA,
    id: parts.id,
    revision: parts.revision,
    state: parts.state,
    time: new Date(parts.firedMs).toISOString(),
    recipe: {
      id: recipe.id, name: recipe.name, description: recipe.description, version: recipe.version,
      tactic: recipe.tactic, technique: recipe.technique, related: recipe.related,
      importance: recipe.importance, documentation: recipe.documentation,
    },
    environment: { kind: environment.kind, source: environment.source, ci: environment.ci ?? null },
    subject: {
      scope: parts.scope,
      process: describeProcess(subject),
      // Kernel threads show no command: they are named as the kernel.
      ancestry: parts.ancestry.map((p, i) => (i >= parts.ancestry.length - kernel ? describeKernelThread(p) : describeProcess(p))),
      members: parts.members.map(describeProcess),
      // Filled by the live session, which may read the package's package.json.
      package: null,
    },
    evidence: {
      roots: recipe.match.roots,
      directories: evidence.directories,
      directoryCount: evidence.directories.length,
      files: evidence.files,
      filesOmitted: evidence.filesOmitted,
      accessCount: evidence.accessCount,
      first: new Date(evidence.firstMs).toISOString(),
      last: new Date(evidence.lastMs).toISOString(),
      configurationChanged: evidence.configurationChanged,
      threshold: recipe.aggregate.threshold,
      unit: recipe.aggregate.count,
      windowMs: scopeWindowMs(recipe, parts.scope) ?? 0,
    },
    host: context.host,
    sensor: {
      name: context.sensor.name,
      version: context.sensor.version,
      eventsLost: parts.missed?.eventsLost ?? 0,
      gaps: (parts.missed?.gaps ?? []).map((g) => ({ start: new Date(g.startMs).toISOString(), end: iso(g.endMs ?? undefined) })),
      complete: (parts.missed?.eventsLost ?? 0) === 0 && (parts.missed?.gaps.length ?? 0) === 0,
    },
    guidance: { environment: environment.kind, ...guidance },
  };
}
