// Decides what an access means for a recipe: does it count toward breadth, for which
// directory, and is it a metadata probe that a later write may withdraw.

import type { FileAccess } from '../model/file-access.ts';
import type { Recipe } from '../model/recipe.ts';
import { isUnder, parentDirectory } from '../normalize/path-canonicalizer.ts';

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

const PROBE_ACTIONS: ReadonlySet<string> = new Set(['stat', 'access', 'readlink']);

/** A recipe's match rules in the form the hot path wants: sets, precomputed once per recipe. */
interface CompiledMatch {
  readonly roots: readonly string[];
  readonly countActions: ReadonlySet<string>;
  readonly probeErrors: ReadonlySet<string>;
}

const compiled = new WeakMap<Recipe, CompiledMatch>();

function compile(recipe: Recipe): CompiledMatch {
  let c = compiled.get(recipe);
  if (c === undefined) {
    c = { roots: recipe.match.roots, countActions: new Set(recipe.match.countActions), probeErrors: new Set(recipe.match.probeErrors) };
    compiled.set(recipe, c);
  }
  return c;
}

/** Undefined when the access lies outside every root of the recipe. */
export function classifyAccess(access: FileAccess, recipe: Recipe): Classification | undefined {
  const m = compile(recipe);
  let root: string | undefined;
  for (const r of m.roots) {
    if (isUnder(access.path, r)) {
      root = r;
      break;
    }
  }
  if (root === undefined) return undefined;
  const error = access.error;
  const action = access.action;
  const changesConfiguration = error === undefined && (action === 'write' || action === 'readwrite');
  const probe = PROBE_ACTIONS.has(action);
  let reason: Classification['reason'] = 'counted';
  let countedDir: string | undefined;
  if (action === 'write') reason = 'write';
  else if (error !== undefined && m.probeErrors.has(error)) reason = 'probe-failed';
  else if (!m.countActions.has(action)) reason = 'action-not-counted';
  else {
    const dir = action === 'list' || access.isDirectory === true ? access.path : parentDirectory(access.path);
    // Only directories strictly below the root count: every path into the tree passes the root.
    if (dir === root || !isUnder(dir, root)) reason = 'root-itself';
    else countedDir = dir;
  }
  return { root, countedDir, reason, probe, changesConfiguration };
}
