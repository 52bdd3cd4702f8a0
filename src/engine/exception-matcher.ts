// Exceptions compiled for the hot path: does an accessing process match one of a recipe's
// anchored exceptions (exe, argv, parent or ancestor exe, uid, container id, image and name,
// Kubernetes namespace and pod labels, environment)?

import type { ContainerIdentity } from '../model/container.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import type { ProcessInfo } from '../model/process-info.ts';
import type { RecipeException } from '../model/recipe.ts';
import { compileAnchoredRegex, compileExeTest, type PathTest } from '../recipes/path-pattern.ts';
import { compileTextTest, type TextTest } from '../recipes/text-pattern.ts';
import { shellQuote } from './guidance-renderer.ts';

export interface ExceptionSubject {
  readonly process: ProcessInfo;
  /** Parent first. */
  readonly ancestry: readonly ProcessInfo[];
  readonly environment: EnvironmentKind;
  /** The container the process runs in, or undefined on the host. */
  readonly containerId: string | undefined;
  /**
   * The process's own container as `watch` knows it (null: on the host; undefined: not known).
   * Image, name and Kubernetes conditions match only a container the runtime told about.
   */
  readonly container?: ContainerIdentity | null | undefined;
}

export type ExceptionMatcher = (subject: ExceptionSubject) => RecipeException | undefined;

interface CompiledException {
  readonly exception: RecipeException;
  readonly exe: PathTest | undefined;
  readonly argv: RegExp | undefined;
  readonly parentExe: PathTest | undefined;
  readonly ancestorExe: PathTest | undefined;
  readonly uid: ReadonlySet<number> | undefined;
  readonly container: readonly string[] | undefined;
  readonly environment: ReadonlySet<string> | undefined;
  readonly containerImage: TextTest | undefined;
  readonly containerName: TextTest | undefined;
  readonly k8sNamespace: TextTest | undefined;
  readonly k8sPodLabels: readonly (readonly [string, TextTest])[] | undefined;
}

/** Whether the process's container, as the runtime described it, meets the container and Kubernetes conditions. */
function containerFactsMatch(c: CompiledException, container: ContainerIdentity | null | undefined): boolean {
  if (c.containerImage === undefined && c.containerName === undefined && c.k8sNamespace === undefined && c.k8sPodLabels === undefined) return true;
  if (container === null || container === undefined || !container.resolved) return false;
  if (c.containerImage !== undefined && (container.image === null || !c.containerImage(container.image))) return false;
  if (c.containerName !== undefined && (container.name === null || !c.containerName(container.name))) return false;
  const pod = container.pod;
  if (c.k8sNamespace !== undefined && (pod === null || !c.k8sNamespace(pod.namespace))) return false;
  if (c.k8sPodLabels !== undefined) {
    if (pod === null) return false;
    for (const [key, test] of c.k8sPodLabels) {
      const value = Object.hasOwn(pod.labels, key) ? pod.labels[key] : undefined;
      if (value === undefined || !test(value)) return false;
    }
  }
  return true;
}

/**
 * Live runs: only the verified executable counts (a look-alike path never does, and a process
 * whose executable could not be verified matches no executable condition). Replays, which
 * cannot check: the path as exec'd.
 */
function exeMatches(test: PathTest, p: Pick<ProcessInfo, 'exe' | 'verifiedExe'> | undefined): boolean {
  if (p === undefined) return false;
  if (p.verifiedExe !== undefined) return p.verifiedExe !== null && test(p.verifiedExe);
  return p.exe !== undefined && test(p.exe);
}

function containerMatches(wanted: readonly string[], id: string | undefined): boolean {
  return wanted.some((w) => (w === 'none' ? id === undefined : id?.startsWith(w) === true));
}

/**
 * The image of each ancestor that made the next link of the chain, parent first: what it ran
 * when it forked (a parent that forks a reader and then execs an excepted program is not that
 * program for the reader); its current image when the fork, or the parent's image then, was not seen.
 */
function lineageImages(s: ExceptionSubject): (Pick<ProcessInfo, 'exe' | 'verifiedExe'> | undefined)[] {
  return s.ancestry.map((ancestor, i) => {
    const forkedBy = (i === 0 ? s.process : s.ancestry[i - 1])?.forkedBy;
    return forkedBy?.exe !== undefined ? forkedBy : ancestor;
  });
}

function matches(c: CompiledException, s: ExceptionSubject): boolean {
  const p = s.process;
  if (c.environment !== undefined && !c.environment.has(s.environment)) return false;
  if (c.exe !== undefined && !exeMatches(c.exe, p)) return false;
  if (c.uid !== undefined && (p.uid === undefined || !c.uid.has(p.uid))) return false;
  if (c.container !== undefined && !containerMatches(c.container, s.containerId)) return false;
  if (!containerFactsMatch(c, s.container)) return false;
  if (c.parentExe !== undefined || c.ancestorExe !== undefined) {
    const images = lineageImages(s);
    if (c.parentExe !== undefined && !exeMatches(c.parentExe, images[0])) return false;
    const test = c.ancestorExe;
    if (test !== undefined && !images.some((a) => exeMatches(test, a))) return false;
  }
  // An argv the sensor had to cut cannot be trusted to match an anchored pattern. Quoted as a
  // shell would, so one argument holding a space cannot pass for two.
  if (c.argv !== undefined && (p.argvTruncated || !c.argv.test(shellQuote(p.argv)))) return false;
  return true;
}

function nonEmpty<T>(values: readonly T[]): readonly T[] | undefined {
  return values.length === 0 ? undefined : values;
}

export function compileExceptions(exceptions: readonly RecipeException[]): ExceptionMatcher | undefined {
  if (exceptions.length === 0) return undefined;
  const compiled: CompiledException[] = exceptions.map((e) => ({
    exception: e,
    exe: compileExeTest(e.exe),
    argv: e.argv === undefined ? undefined : compileAnchoredRegex(e.argv),
    parentExe: compileExeTest(e.parentExe),
    ancestorExe: compileExeTest(e.ancestorExe),
    uid: e.uid.length === 0 ? undefined : new Set(e.uid),
    container: nonEmpty(e.container),
    environment: e.environment.length === 0 ? undefined : new Set(e.environment),
    containerImage: compileTextTest(e.containerImage ?? []),
    containerName: compileTextTest(e.containerName ?? []),
    k8sNamespace: compileTextTest(e.k8sNamespace ?? []),
    k8sPodLabels: podLabelTests(e.k8sPodLabels),
  }));
  return (subject) => compiled.find((c) => matches(c, subject))?.exception;
}

function podLabelTests(labels: Readonly<Record<string, readonly string[]>> | undefined): readonly (readonly [string, TextTest])[] | undefined {
  if (labels === undefined) return undefined;
  const tests: (readonly [string, TextTest])[] = [];
  for (const [key, patterns] of Object.entries(labels)) {
    const test = compileTextTest(patterns);
    if (test !== undefined) tests.push([key, test]);
  }
  return tests.length === 0 ? undefined : tests;
}
