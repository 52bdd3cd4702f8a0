// Writes a loaded recipe back as recipe-file YAML (snake_case, durations with units), so
// `tripline recipes show` prints what the engine really runs, exceptions from the
// configuration included.

import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import type { PathPattern, Recipe, RecipeException } from '../model/recipe.ts';
import { formatDuration } from './recipe-loader.ts';

function pattern(p: PathPattern): Record<string, string> {
  return { [p.kind]: p.value };
}

function oneOrMany<T>(values: readonly T[]): T | readonly T[] | undefined {
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

function exception(e: RecipeException): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, reason: e.reason };
  const fields: [string, unknown][] = [
    ['exe', oneOrMany(e.exe)], ['argv', e.argv], ['parent_exe', oneOrMany(e.parentExe)], ['ancestor_exe', oneOrMany(e.ancestorExe)],
    ['uid', oneOrMany(e.uid)], ['container', oneOrMany(e.container)], ['environment', oneOrMany(e.environment)],
  ];
  for (const [k, v] of fields) if (v !== undefined) out[k] = v;
  return out;
}

/** The recipe as a recipe file would spell it (snake_case keys, durations with units). */
function recipeDocument(r: Recipe): Record<string, unknown> {
  const limits: Record<string, number> = {};
  if (r.limits.perProcess !== undefined) limits.per_process = r.limits.perProcess;
  if (r.limits.perExe !== undefined) limits.per_exe = r.limits.perExe;
  if (r.limits.perAncestry !== undefined) limits.per_ancestry = r.limits.perAncestry;
  if (r.limits.perHost !== undefined) limits.per_host = r.limits.perHost;
  return {
    id: r.id, name: r.name, description: r.description, version: r.version, tactic: r.tactic, technique: r.technique,
    related: r.related, importance: r.importance, documentation: r.documentation,
    match: {
      roots: r.match.roots,
      ...(r.match.include.length > 0 ? { include: r.match.include.map(pattern) } : {}),
      ...(r.match.exclude.length > 0 ? { exclude: r.match.exclude.map(pattern) } : {}),
      count_root: r.match.countRoot, actions: r.match.countActions, probe_errors: r.match.probeErrors,
      failed_probes: r.match.failedProbes, writes: r.match.writes,
    },
    aggregate: {
      count: r.aggregate.count, threshold: r.aggregate.threshold,
      scopes: r.aggregate.scopes.map((s) => ({ scope: s.scope === 'process' ? 'process' : 'parent-with-children', window: formatDuration(s.windowMs) })),
    },
    exceptions: r.exceptions.map(exception),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
    guidance: r.guidance,
  };
}

/**
 * The recipe as JSON for scripts (`recipes show --json`): the recipe file's keys, plus where it
 * was loaded from and where each exception was written.
 */
export function recipeToJson(r: Recipe): Record<string, unknown> {
  const data = recipeDocument(r);
  return { ...data, source: r.source, exceptions: r.exceptions.map((e) => ({ ...exception(e), origin: e.origin })) };
}

export function recipeToYaml(r: Recipe): string {
  const data = recipeDocument(r);
  const doc = new Document(data);
  doc.commentBefore = ` recipe ${r.id}, loaded from ${r.source}`;
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.length > 90) node.type = 'BLOCK_FOLDED';
    },
    Seq(_key, node) {
      if (node.items.length > 0 && node.items.every((i) => isScalar(i) && String(i.value).length < 20)) node.flow = true;
    },
  });
  // Where each exception was written, so a surprising one can be traced to its file.
  const seq = doc.get('exceptions', true);
  if (isSeq(seq)) {
    seq.items.forEach((item, i) => {
      const e = r.exceptions[i];
      if (e !== undefined && isMap(item)) item.commentBefore = ` from ${e.origin}`;
    });
  }
  return doc.toString({ lineWidth: 110 });
}
