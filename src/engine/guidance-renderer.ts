// Fills a recipe's guidance templates with the facts of one detection, so the reader is told
// which process, which files and which command to look at, not generic advice.

import type { Guidance } from '../model/recipe.ts';

/** Placeholders a guidance template may use. */
export const GUIDANCE_PLACEHOLDERS = [
  'command', 'comm', 'pid', 'exe', 'cwd', 'parent', 'directoryCount', 'directories', 'files', 'where', 'scope',
] as const;
export type GuidanceFacts = Readonly<Record<(typeof GUIDANCE_PLACEHOLDERS)[number], string>>;

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/** Names in `template` that are not known placeholders (for validating recipes). */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(GUIDANCE_PLACEHOLDERS);
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '').filter((name) => !known.has(name));
}

function fill(template: string, facts: GuidanceFacts): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in facts ? facts[name as keyof GuidanceFacts] : whole));
}

export function renderGuidance(guidance: Guidance, facts: GuidanceFacts): Guidance {
  return { implications: fill(guidance.implications, facts), actions: guidance.actions.map((a) => fill(a, facts)) };
}

/** Quotes argv for a shell the way a reader would retype it. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** "a, b, c and 4 more". */
export function listSome(items: readonly string[], max: number): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
