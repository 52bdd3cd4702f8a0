// A detection recipe: what is watched, what counts, how much is enough, who is excepted,
// how often it may fire, and what it means. Recipes are data (YAML files validated against
// schema/recipe-v1.schema.json); this is their shape once loaded.

import type { EnvironmentKind } from './environment.ts';
import type { Importance } from './importance.ts';
import type { AccessAction } from './sensor-event.ts';

export interface MitreRef {
  readonly id: string;
  readonly name: string;
}

/**
 * `process`: one process (with its threads and forks that did not exec).
 * `process-tree`: a process with all its descendants (`parent-with-children` in recipe files).
 */
export type SubjectScope = 'process' | 'process-tree';

export type PathPatternKind = 'prefix' | 'glob' | 'regex';

/** A pattern over canonical absolute paths. */
export interface PathPattern {
  readonly kind: PathPatternKind;
  readonly value: string;
}

/** What an access that is not counted is still good for: evidence, or nothing at all. */
export type NotCounted = 'evidence' | 'ignore';

export interface RecipeMatch {
  /** Canonical directory prefixes the recipe watches (an access counts when its path is at or below one). */
  readonly roots: readonly string[];
  /** When given, only paths matching one of these count (others are evidence). */
  readonly include: readonly PathPattern[];
  /** Paths matching one of these never count (they are evidence). */
  readonly exclude: readonly PathPattern[];
  /** Whether the root directory itself counts as a directory (every path into the tree passes it). */
  readonly countRoot: boolean;
  /** Actions that count toward breadth. */
  readonly countActions: readonly AccessAction[];
  /** Errors that mean "the path does not exist". */
  readonly probeErrors: readonly string[];
  /** Failed probes (an error in probeErrors): counted, kept as evidence, or ignored. */
  readonly failedProbes: 'count' | NotCounted;
  /** Opens for writing only: counted, kept as evidence, or ignored. */
  readonly writes: 'count' | NotCounted;
}

export interface ScopeWindow {
  readonly scope: SubjectScope;
  /** Accesses count together when they fall within this many ms of each other. */
  readonly windowMs: number;
}

export interface RecipeAggregate {
  /** What is counted: distinct directories (a file counts for its directory) or distinct files. */
  readonly count: 'directories' | 'files';
  /** Distinct directories (or files) that must be touched within the window. */
  readonly threshold: number;
  /** The subjects counted, each with its window. */
  readonly scopes: readonly ScopeWindow[];
}

/**
 * An anchored description of a process whose accesses are expected. Every condition given
 * must hold; an exception with no condition is rejected by the loader.
 */
export interface RecipeException {
  /** Short name shown when the exception applies. */
  readonly name: string;
  /** Why the accesses are expected (the evidence). */
  readonly reason: string;
  /** Exact canonical paths or globs ("/usr/lib/jvm/*\/bin/java") the accessing process's exe must match. */
  readonly exe: readonly string[];
  /** Regular expression the whole argv (joined by single spaces) must match, anchored at both ends. */
  readonly argv: string | undefined;
  /** The exe of the accessing process's parent must match one of these. */
  readonly parentExe: readonly string[];
  /** Some ancestor's exe (parent, grandparent, ... up to the root) must match one of these. */
  readonly ancestorExe: readonly string[];
  readonly uid: readonly number[];
  /** Container ids (full or a prefix of at least 12 hex digits), or "none" for a process on the host. */
  readonly container: readonly string[];
  /** Images (as the runtime names them: localhost/x:1, docker.io/prom/node-exporter:v1.8.2) or globs the process's container must run. */
  readonly containerImage?: readonly string[];
  /** Container names or globs. */
  readonly containerName?: readonly string[];
  /** Kubernetes namespaces or globs of the container's pod. */
  readonly k8sNamespace?: readonly string[];
  /** Pod labels: each key must be present with a value matching one of its values or globs. */
  readonly k8sPodLabels?: Readonly<Record<string, readonly string[]>>;
  readonly environment: readonly EnvironmentKind[];
  /** Where it was written (file:line), for explain and diagnostics. */
  readonly origin: string;
}

/**
 * How many detections a recipe may raise, like Jibril's times_per_*: at most this many per
 * process, per executable, per ancestry (the chain of exes from the root), per host. Undefined
 * is no limit.
 */
export interface RecipeLimits {
  readonly perProcess: number | undefined;
  readonly perExe: number | undefined;
  readonly perAncestry: number | undefined;
  readonly perHost: number | undefined;
}

export const LIMIT_KINDS = ['perProcess', 'perExe', 'perAncestry', 'perHost'] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

export interface Guidance {
  readonly implications: string;
  readonly actions: readonly string[];
}

export interface Recipe {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly tactic: MitreRef;
  readonly technique: MitreRef;
  readonly related: readonly MitreRef[];
  readonly importance: Importance;
  readonly documentation: string;
  readonly match: RecipeMatch;
  readonly aggregate: RecipeAggregate;
  readonly exceptions: readonly RecipeException[];
  readonly limits: RecipeLimits;
  /** Guidance templates per environment; placeholders like {command} are filled from the detection. */
  readonly guidance: Readonly<Record<EnvironmentKind, Guidance>>;
  /** Where the recipe was loaded from: "builtin:<file>" or a path. */
  readonly source: string;
}

/** The window of a scope the recipe counts, or undefined when it does not count that scope. */
export function scopeWindowMs(recipe: Recipe, scope: SubjectScope): number | undefined {
  return recipe.aggregate.scopes.find((s) => s.scope === scope)?.windowMs;
}

/** Placeholders guidance texts may use. */
export const GUIDANCE_PLACEHOLDERS = [
  'command', 'comm', 'pid', 'exe', 'cwd', 'parent', 'directoryCount', 'directories', 'files', 'where', 'scope',
] as const;
