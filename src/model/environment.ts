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
}

export interface Environment {
  readonly kind: EnvironmentKind;
  /** How the kind was decided: a flag, a variable, or a CI marker. */
  readonly source: string;
  readonly ci?: CiContext;
}
