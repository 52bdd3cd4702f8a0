// Fills a recipe's guidance templates with the facts of one detection, so the reader is told
// which process, which files and which command to look at, not generic advice.

import { GUIDANCE_PLACEHOLDERS, type Guidance } from '../model/recipe.ts';

export type GuidanceFacts = Readonly<Record<(typeof GUIDANCE_PLACEHOLDERS)[number], string>>;

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

function fill(template: string, facts: GuidanceFacts): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => (name in facts ? facts[name as keyof GuidanceFacts] : whole));
}

export function renderGuidance(guidance: Guidance, facts: GuidanceFacts): Guidance {
  return { implications: fill(guidance.implications, facts), actions: guidance.actions.map((a) => fill(a, facts)) };
}

export { shellQuote } from '../model/shell-quote.ts';

/** "a, b, c and 4 more". */
export function listSome(items: readonly string[], max: number): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
