// Decides what an access means for a recipe: does it count toward breadth, for which
// directory, and is it a metadata probe that a later write may withdraw.

import type { FileAccess } from '../model/file-access.ts';
import type { Recipe } from '../model/recipe.ts';
import { isUnder } from '../normalize/path-canonicalizer.ts';

export interface Classification {
  /** The watched root the access falls under. */
  readonly root: string;
  /** The directory the access counts for, or undefined when it is evidence only. */
  readonly countedDir: string | undefined;
  /** Why it does not count, when it does not. */
  readonly reason: 'counted' | 'write' | 'probe-failed' | 'action-not-counted' | 'root-itself';
  /** stat, access or readlink: withdrawn if the same process then writes the same path. */
  readonly probe: boolean;
  /** A successful open for writing. */
  readonly changesConfiguration: boolean;
}

const PROBE_ACTIONS = new Set(['stat', 'access', 'readlink']);

export function parentDirectory(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** Undefined when the access lies outside every root of the recipe. */
export function classifyAccess(access: FileAccess, recipe: Recipe): Classification | undefined {
  const root = recipe.match.roots.find((r) => isUnder(access.path, r));
  if (root === undefined) return undefined;
  const ok = access.error === undefined;
  const writes = access.action === 'write' || access.action === 'readwrite';
  const changesConfiguration = ok && writes;
  const probe = PROBE_ACTIONS.has(access.action);
  const base = { root, probe, changesConfiguration };
  if (access.action === 'write') return { ...base, countedDir: undefined, reason: 'write' };
  if (!ok && recipe.match.probeErrors.includes(access.error ?? '')) return { ...base, countedDir: undefined, reason: 'probe-failed' };
  if (!recipe.match.countActions.includes(access.action)) return { ...base, countedDir: undefined, reason: 'action-not-counted' };
  const dir = access.action === 'list' || access.isDirectory === true ? access.path : parentDirectory(access.path);
  // Only directories strictly below the root count: every path into the tree passes the root.
  if (dir === root || !isUnder(dir, root)) return { ...base, countedDir: undefined, reason: 'root-itself' };
  return { ...base, countedDir: dir, reason: 'counted' };
}
