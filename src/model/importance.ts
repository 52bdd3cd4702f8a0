// Importance levels shared by recipes, detections and the --fail-on policy.

export const IMPORTANCE_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type Importance = (typeof IMPORTANCE_LEVELS)[number];

export function isImportance(value: string): value is Importance {
  return (IMPORTANCE_LEVELS as readonly string[]).includes(value);
}

/** Numeric rank, higher is more important. */
export function importanceRank(level: Importance): number {
  return IMPORTANCE_LEVELS.indexOf(level);
}
