// The version of this tripline, from its package.json (read once).

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function triplineVersion(): string {
  if (cached !== undefined) return cached;
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  cached = typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  return cached;
}
