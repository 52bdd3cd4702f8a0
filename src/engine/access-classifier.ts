// Decides what an access means for a recipe: does it count toward breadth (for which
// directory or file), is it evidence only (and why), and is it a metadata probe that a later
// write may withdraw.

import type { FileAccess } from '../model/file-access.ts';
import type { Recipe } from '../model/recipe.ts';
import { isUnder, parentDirectory } from '../model/canonical-path.ts';
import { compilePathPattern, type PathTest } from '../recipes/path-pattern.ts';

export type NotCountedReason = 'write' | 'probe-failed' | 'action-not-counted' | 'root-itself' | 'not-included' | 'excluded';

export interface Classification {
  /** The watched root the access falls under. */
  readonly root: string;
  /** What the window counts (a directory, or the file with `count: files`); undefined when it does not count. */
  readonly unit: string | undefined;
  /** The directory a counted access stands for in the evidence. */
  readonly countedDir: string | undefined;
  /** Why it does not count, when it does not. */
  readonly reason: 'counted' | NotCountedReason;
  /** False when the recipe ignores this kind of access altogether (not even evidence). */
  readonly evidence: boolean;
  /** stat, access or readlink: withdrawn if the same process then writes the same path. */
  readonly probe: boolean;
  /** A successful open for writing. */
  readonly changesConfiguration: boolean;
}

const PROBE_ACTIONS: ReadonlySet<string> = new Set(['stat', 'access', 'readlink']);

/** A recipe's match rules in the form the hot path wants: sets and tests, compiled once per recipe. */
interface CompiledMatch {
  readonly roots: readonly string[];
  readonly countActions: ReadonlySet<string>;
  readonly probeErrors: ReadonlySet<string>;
  readonly include: readonly PathTest[];
  readonly exclude: readonly PathTest[];
}

const compiled = new WeakMap<Recipe, CompiledMatch>();

function compile(recipe: Recipe): CompiledMatch {
  let c = compiled.get(recipe);
  if (c === undefined) {
    const m = recipe.match;
    c = {
      roots: m.roots, countActions: new Set(m.countActions), probeErrors: new Set(m.probeErrors),
      include: m.include.map(compilePathPattern), exclude: m.exclude.map(compilePathPattern),
    };
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
  const match = recipe.match;
  const error = access.error;
  const action = access.action;
  const changesConfiguration = error === undefined && (action === 'write' || action === 'readwrite');
  const probe = PROBE_ACTIONS.has(action);
  let reason: Classification['reason'] = 'counted';
  let evidence = true;
  if (action === 'write') {
    if (match.writes !== 'count') reason = 'write';
    evidence = match.writes !== 'ignore';
  } else if (error !== undefined && m.probeErrors.has(error)) {
    if (match.failedProbes !== 'count') reason = 'probe-failed';
    evidence = match.failedProbes !== 'ignore';
  } else if (!m.countActions.has(action)) {
    reason = 'action-not-counted';
  }
  if (reason === 'counted') {
    if (m.exclude.some((test) => test(access.path))) reason = 'excluded';
    else if (m.include.length > 0 && !m.include.some((test) => test(access.path))) reason = 'not-included';
  }
  let countedDir: string | undefined;
  let unit: string | undefined;
  if (reason === 'counted') {
    const isDir = action === 'list' || access.isDirectory === true;
    const dir = isDir ? access.path : parentDirectory(access.path);
    // By default only directories strictly below the root count: every path into the tree passes the root.
    const inside = match.countRoot ? isUnder(dir, root) : dir !== root && isUnder(dir, root);
    if (!inside && !(recipe.aggregate.count === 'files' && !isDir)) reason = 'root-itself';
    else {
      countedDir = inside ? dir : root;
      unit = recipe.aggregate.count === 'files' ? access.path : dir;
    }
  }
  return { root, unit, countedDir, reason, evidence, probe, changesConfiguration };
}
