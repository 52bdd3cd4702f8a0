// Where a detection happened, which decides the guidance shown with it.

export const ENVIRONMENT_KINDS = ['ci', 'staging', 'production', 'development', 'unknown'] as const;
export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];

export function isEnvironmentKind(value: string): value is EnvironmentKind {
  return (ENVIRONMENT_KINDS as readonly string[]).includes(value);
}

/** The CI provider's run context, when the detection happened in a pipeline. */
export interface CiContext {
  readonly provider: string;
  readonly repository?: string;
  readonly workflow?: string;
  readonly job?: string;
  readonly runId?: string;
  readonly runAttempt?: string;
  readonly sha?: string;
  readonly ref?: string;
  readonly actor?: string;
  readonly url?: string;
  /** The workflow step that started the subject (GitHub Actions), when known. */
  readonly step?: CiStep;
}

/**
 * A GitHub Actions step, from the GITHUB_ACTION variable every process of the step inherits
 * (read from the step's process environment by `watch`, from tripline's own by `run`).
 */
export interface CiStep {
  /** GITHUB_ACTION: the step's `id:`, `__run`, `__run_2`... for an unnamed run step, `__owner_repo` for an unnamed uses step. */
  readonly id: string;
  /** For a `uses:` step, GITHUB_ACTION_REPOSITORY@GITHUB_ACTION_REF. */
  readonly action?: string;
  /** The process whose environment named the step (watch), or absent when tripline's own environment did (run). */
  readonly pid?: number;
}

export interface Environment {
  readonly kind: EnvironmentKind;
  /** How the kind was decided: a flag, a variable, or a CI marker. */
  readonly source: string;
  readonly ci?: CiContext;
}
