// A detection recipe: what is watched, what counts, how much is enough, and what it means.

import type { EnvironmentKind } from './environment.ts';
import type { Importance } from './importance.ts';
import type { AccessAction } from './sensor-event.ts';

export interface MitreRef {
  readonly id: string;
  readonly name: string;
}

export type SubjectScope = 'process' | 'process-tree';

export interface RecipeMatch {
  /** Canonical directory prefixes the recipe watches (an access counts when its path is the root or below it). */
  readonly roots: readonly string[];
  /** Actions that count toward breadth. */
  readonly countActions: readonly AccessAction[];
  /** Errors that mean "the path does not exist": kept as evidence, never counted. */
  readonly probeErrors: readonly string[];
}

export interface RecipeAggregate {
  /** Distinct directories that must be touched within the window. */
  readonly threshold: number;
  /** A process's own accesses count together when they fall within this many ms of each other. */
  readonly processWindowMs: number;
  /** A process tree's accesses (the actor and its descendants) count together within this window. */
  readonly treeWindowMs: number;
  readonly scopes: readonly SubjectScope[];
}

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
  /** Guidance templates per environment; placeholders like {command} are filled from the detection. */
  readonly guidance: Readonly<Record<EnvironmentKind, Guidance>>;
}
