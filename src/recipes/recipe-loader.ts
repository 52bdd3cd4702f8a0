// Loads recipe files: YAML parsed with positions, validated against the published schema,
// then checked for what a schema cannot see (regexes, globs, placeholders, duplicate ids).
// Every problem of every file is reported at once; a broken file is skipped, never the rest.

import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { describePath, schemaCheck } from '../documents/schema-validator.ts';
import { validate as validateRecipeV1 } from '../documents/validators/recipe-v1.ts';
import { closestName } from '../documents/closest-name.ts';
import { parseYamlDocument, type DocumentPath, type YamlDocument } from '../documents/yaml-document.ts';
import { readDocumentFile, type DocumentTrust } from '../documents/document-file.ts';
import { sortDiagnostics, type Diagnostic } from '../model/diagnostic.ts';
import type { EnvironmentKind } from '../model/environment.ts';
import {
  GUIDANCE_PLACEHOLDERS, type MitreRef, type PathPattern, type PathPatternKind, type Recipe,
  type RecipeException, type ScopeWindow,
} from '../model/recipe.ts';
import type { AccessAction } from '../model/sensor-event.ts';
import { compileAnchoredRegex, compileGlob, compilePathPattern, isGlob } from './path-pattern.ts';
import { compileTextGlob, isTextGlob } from './text-pattern.ts';

const SCHEMA_URL = new URL('../../schema/recipe-v1.schema.json', import.meta.url);
/** The recipes Tripline ships, loaded through this same loader. */
export const BUILTIN_RECIPE_DIR = new URL('../../recipes/builtin/', import.meta.url);

/** Generated from schema/recipe-v1.schema.json ahead of time (npm run build:validators). */
const checkRecipeSchema = schemaCheck(validateRecipeV1 as unknown as ValidateFunction);

/** The recipe schema itself (for `tripline recipes schema` and editors). */
export function recipeSchemaText(): string {
  return readFileSync(SCHEMA_URL, 'utf8');
}

// ---- the file's shape once the schema accepted it ----

type OneOrMany<T> = T | readonly T[];

export interface RawException {
  readonly name: string;
  readonly reason: string;
  readonly recipe?: string;
  readonly exe?: OneOrMany<string>;
  readonly argv?: string;
  readonly parent_exe?: OneOrMany<string>;
  readonly ancestor_exe?: OneOrMany<string>;
  readonly uid?: OneOrMany<number>;
  readonly container?: OneOrMany<string>;
  readonly container_image?: OneOrMany<string>;
  readonly container_name?: OneOrMany<string>;
  readonly k8s_namespace?: OneOrMany<string>;
  readonly k8s_pod_label?: Readonly<Record<string, OneOrMany<string>>>;
  readonly environment?: OneOrMany<EnvironmentKind>;
}

/** The fields a recipe file spells as the model does; the rest follow. */
interface RawRecipe extends Pick<Recipe, 'id' | 'name' | 'description' | 'version' | 'tactic' | 'technique' | 'importance' | 'guidance'> {
  readonly related?: readonly MitreRef[];
  readonly documentation?: string;
  readonly match: {
    readonly roots: readonly string[];
    readonly include?: readonly Readonly<Partial<Record<PathPatternKind, string>>>[];
    readonly exclude?: readonly Readonly<Partial<Record<PathPatternKind, string>>>[];
    readonly count_root?: boolean;
    readonly actions?: readonly AccessAction[];
    readonly probe_errors?: readonly string[];
    readonly failed_probes?: 'count' | 'evidence' | 'ignore';
    readonly writes?: 'count' | 'evidence' | 'ignore';
  };
  readonly aggregate: {
    readonly count?: 'directories' | 'files';
    readonly threshold: number;
    readonly scopes: readonly { readonly scope: 'process' | 'parent-with-children'; readonly window: string }[];
  };
  readonly exceptions?: readonly RawException[];
  readonly limits?: { readonly per_process?: number; readonly per_exe?: number; readonly per_ancestry?: number; readonly per_host?: number };
}

const DEFAULT_ACTIONS: readonly AccessAction[] = ['read', 'readwrite', 'stat', 'access', 'list', 'readlink'];
const DEFAULT_PROBE_ERRORS = ['ENOENT', 'ENOTDIR', 'EINVAL', 'ELOOP', 'ENAMETOOLONG'];

/** "60s" → 60000. The schema guarantees the form. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text);
  if (m === null) return NaN;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

/** 60000 → "60s", the way recipe files write it. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${String(ms / 3_600_000)}h`;
  if (ms % 60_000 === 0) return `${String(ms / 60_000)}m`;
  if (ms % 1000 === 0) return `${String(ms / 1000)}s`;
  return `${String(ms)}ms`;
}

function list<T>(value: OneOrMany<T> | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** Where a check failed, as a diagnostic. */
function at(doc: YamlDocument, path: DocumentPath, code: string, message: string, hint?: string, severity: 'error' | 'warning' = 'error'): Diagnostic {
  return { severity, code, file: doc.file, ...doc.position(path), message, ...(hint === undefined ? {} : { hint }) };
}

/** The physical paths of exact exe paths (/sbin/x on a merged /usr is /usr/sbin/x), kept beside the written ones. */
function withRealPaths(paths: readonly string[]): string[] {
  const out = new Set(paths);
  for (const p of paths) {
    if (isGlob(p)) continue;
    try {
      out.add(realpathSync(p));
    } catch {
      // Not on this host (yet): matched as written.
    }
  }
  return [...out];
}

// ---- checks a schema cannot make; they take the data as it is (even when the schema found
// problems), so one run reports everything ----

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): { value: string; index: number | undefined }[] {
  if (typeof v === 'string') return [{ value: v, index: undefined }];
  if (!Array.isArray(v)) return [];
  return v.flatMap((x: unknown, i) => (typeof x === 'string' ? [{ value: x, index: i }] : []));
}

/** Regexes, globs and anchoring of one exception (from a recipe or a configuration file) at `path` in `doc`. */
export function checkException(raw: unknown, doc: YamlDocument, path: DocumentPath): Diagnostic[] {
  if (!isRecord(raw)) return [];
  const out: Diagnostic[] = [];
  let anchors = 0;
  for (const key of ['exe', 'parent_exe', 'ancestor_exe'] as const) {
    for (const { value, index } of strings(raw[key])) {
      anchors++;
      if (!isGlob(value) || !value.startsWith('/')) continue;
      const where = index === undefined ? [...path, key] : [...path, key, index];
      try {
        compileGlob(value);
      } catch (e) {
        out.push(at(doc, where, 'bad-glob', `${describePath(where)} is not a valid glob: ${(e as Error).message}`));
      }
    }
  }
  if (typeof raw.argv === 'string') {
    try {
      compileAnchoredRegex(raw.argv);
    } catch (e) {
      out.push(at(doc, [...path, 'argv'], 'bad-regex', `${describePath([...path, 'argv'])} is not a valid regular expression: ${(e as Error).message}`,
        'JavaScript (Unicode) regular expression syntax; it must match the whole command line'));
    }
  }
  const textGlobs: [string, unknown][] = [['container_image', raw.container_image], ['container_name', raw.container_name], ['k8s_namespace', raw.k8s_namespace]];
  if (isRecord(raw.k8s_pod_label)) for (const [k, v] of Object.entries(raw.k8s_pod_label)) textGlobs.push([`k8s_pod_label.${k}`, v]);
  for (const [key, v] of textGlobs) {
    for (const { value, index } of strings(v)) {
      if (!isTextGlob(value)) continue;
      const keys = key.startsWith('k8s_pod_label.') ? ['k8s_pod_label', key.slice('k8s_pod_label.'.length)] : [key];
      const where = index === undefined ? [...path, ...keys] : [...path, ...keys, index];
      try {
        compileTextGlob(value);
      } catch (e) {
        out.push(at(doc, where, 'bad-glob', `${describePath(where)} is not a valid glob: ${(e as Error).message}`,
          '* matches any characters, ? one, [...] a class; the pattern must match the whole value'));
      }
    }
  }
  const name = typeof raw.name === 'string' ? raw.name : describePath(path);
  const others = ['argv', 'uid', 'container', 'container_image', 'container_name', 'k8s_namespace', 'k8s_pod_label', 'environment'].filter((k) => raw[k] !== undefined).length;
  if (anchors + others === 0) {
    out.push(at(doc, path, 'empty-exception', `exception "${name}" has no condition and would silence every process`,
      'anchor it on exe (an absolute path) and, if possible, parent_exe'));
  } else if (anchors === 0) {
    out.push(at(doc, path, 'unanchored-exception', `exception "${name}" names no executable (exe, parent_exe or ancestor_exe)`,
      'argv, uid and container can be chosen by whoever runs the process; anchor it on an executable path too', 'warning'));
  }
  return out;
}

/** Converts an exception the schema and checkException accepted. */
export function convertException(raw: RawException, origin: string): RecipeException {
  return {
    name: raw.name, reason: raw.reason.trim(), exe: withRealPaths(list(raw.exe)), argv: raw.argv,
    parentExe: withRealPaths(list(raw.parent_exe)), ancestorExe: withRealPaths(list(raw.ancestor_exe)),
    uid: list(raw.uid), container: list(raw.container), environment: list(raw.environment), origin,
    ...(raw.container_image === undefined ? {} : { containerImage: list(raw.container_image) }),
    ...(raw.container_name === undefined ? {} : { containerName: list(raw.container_name) }),
    ...(raw.k8s_namespace === undefined ? {} : { k8sNamespace: list(raw.k8s_namespace) }),
    ...(raw.k8s_pod_label === undefined ? {} : { k8sPodLabels: Object.fromEntries(Object.entries(raw.k8s_pod_label).map(([k, v]) => [k, list(v)])) }),
  };
}

function checkPatterns(raw: unknown, doc: YamlDocument, path: DocumentPath, roots: readonly string[]): Diagnostic[] {
  if (!Array.isArray(raw)) return [];
  const out: Diagnostic[] = [];
  raw.forEach((item: unknown, i) => {
    if (!isRecord(item)) return;
    for (const kind of ['prefix', 'glob', 'regex'] as const) {
      const value = item[kind];
      if (typeof value !== 'string') continue;
      const where = [...path, i, kind];
      try {
        compilePathPattern({ kind, value });
      } catch (e) {
        const what = kind === 'regex' ? 'a valid regular expression' : 'a valid glob';
        out.push(at(doc, where, kind === 'regex' ? 'bad-regex' : 'bad-glob', `${describePath(where)} is not ${what}: ${(e as Error).message}`));
        continue;
      }
      if (kind === 'regex' || roots.length === 0) continue;
      const wild = value.search(/[*?[{]/);
      const literal = wild < 0 ? value : value.slice(0, wild);
      if (!roots.some((r) => literal.startsWith(r) || r.startsWith(literal))) {
        out.push(at(doc, where, 'pattern-outside-roots', `${describePath(where)} lies outside every root (${roots.join(', ')}) and never matches`,
          'patterns only filter the accesses below match.roots', 'warning'));
      }
    }
  });
  return out;
}

function checkPlaceholders(guidance: unknown, doc: YamlDocument): Diagnostic[] {
  if (!isRecord(guidance)) return [];
  const out: Diagnostic[] = [];
  const known = new Set<string>(GUIDANCE_PLACEHOLDERS);
  const check = (text: string, path: DocumentPath): void => {
    for (const m of text.matchAll(/\{([A-Za-z_]+)\}/g)) {
      const name = m[1] ?? '';
      if (known.has(name)) continue;
      const guess = closestName(name, GUIDANCE_PLACEHOLDERS);
      out.push(at(doc, path, 'unknown-placeholder', `${describePath(path)} uses {${name}}, which is not a placeholder`,
        guess !== undefined ? `did you mean {${guess}}?` : `placeholders: ${GUIDANCE_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`));
    }
  };
  for (const [env, g] of Object.entries(guidance)) {
    if (!isRecord(g)) continue;
    if (typeof g.implications === 'string') check(g.implications, ['guidance', env, 'implications']);
    for (const { value, index } of strings(g.actions)) check(value, ['guidance', env, 'actions', index ?? 0]);
  }
  return out;
}

function checkScopes(aggregate: unknown, doc: YamlDocument): Diagnostic[] {
  if (!isRecord(aggregate) || !Array.isArray(aggregate.scopes)) return [];
  const out: Diagnostic[] = [];
  const seen = new Set<unknown>();
  aggregate.scopes.forEach((s: unknown, i) => {
    if (!isRecord(s)) return;
    if (seen.has(s.scope)) out.push(at(doc, ['aggregate', 'scopes', i, 'scope'], 'duplicate-scope', `scope "${String(s.scope)}" is given twice`, 'give each scope once, with its window'));
    seen.add(s.scope);
    if (typeof s.window === 'string' && parseDuration(s.window) === 0) out.push(at(doc, ['aggregate', 'scopes', i, 'window'], 'bad-value', 'a window must be longer than 0'));
  });
  return out;
}

function semanticChecks(value: unknown, doc: YamlDocument): Diagnostic[] {
  if (!isRecord(value)) return [];
  const out: Diagnostic[] = [];
  const match = isRecord(value.match) ? value.match : {};
  const roots = strings(match.roots).map((r) => r.value).filter((r) => r.startsWith('/'));
  out.push(...checkPatterns(match.include, doc, ['match', 'include'], roots));
  out.push(...checkPatterns(match.exclude, doc, ['match', 'exclude'], roots));
  out.push(...checkScopes(value.aggregate, doc));
  if (Array.isArray(value.exceptions)) {
    value.exceptions.forEach((e: unknown, i) => {
      out.push(...checkException(e, doc, ['exceptions', i]));
      if (isRecord(e) && e.recipe !== undefined) {
        out.push(at(doc, ['exceptions', i, 'recipe'], 'unknown-key', 'unknown key "recipe" in an exception of a recipe file',
          'an exception in a recipe belongs to that recipe; "recipe" is for exceptions in a configuration file'));
      }
    });
  }
  out.push(...checkPlaceholders(value.guidance, doc));
  return out;
}

/** Parses and checks one recipe file's text. `file` is how diagnostics name it. */
export function parseRecipe(text: string, file: string, source = file): { recipe?: Recipe; diagnostics: Diagnostic[] } {
  const doc = parseYamlDocument(text, file);
  const diagnostics: Diagnostic[] = [...doc.diagnostics];
  if (doc.value === undefined) return { diagnostics };
  diagnostics.push(...checkRecipeSchema(doc), ...semanticChecks(doc.value, doc));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics: sortDiagnostics(diagnostics) };
  const raw = doc.value as RawRecipe;
  const m = raw.match;
  const pattern = (p: Readonly<Partial<Record<PathPatternKind, string>>>): PathPattern => {
    const [kind, value] = Object.entries(p)[0] as [PathPatternKind, string];
    return { kind, value };
  };
  const scopes: ScopeWindow[] = raw.aggregate.scopes.map((s) => ({
    scope: s.scope === 'process' ? 'process' : 'process-tree', windowMs: parseDuration(s.window),
  }));
  const exceptions = (raw.exceptions ?? []).map((e, i) => convertException(e, `${file}:${String(doc.position(['exceptions', i]).line)}`));
  const limits = raw.limits ?? {};
  const recipe: Recipe = {
    id: raw.id, name: raw.name, description: raw.description.trim(), version: raw.version,
    tactic: raw.tactic, technique: raw.technique, related: raw.related ?? [], importance: raw.importance,
    documentation: raw.documentation ?? '',
    match: {
      roots: m.roots, include: (m.include ?? []).map(pattern), exclude: (m.exclude ?? []).map(pattern), countRoot: m.count_root ?? false,
      countActions: m.actions ?? DEFAULT_ACTIONS, probeErrors: m.probe_errors ?? DEFAULT_PROBE_ERRORS,
      failedProbes: m.failed_probes ?? 'evidence', writes: m.writes ?? 'evidence',
    },
    aggregate: { count: raw.aggregate.count ?? 'directories', threshold: raw.aggregate.threshold, scopes },
    exceptions,
    limits: { perProcess: limits.per_process, perExe: limits.per_exe, perAncestry: limits.per_ancestry, perHost: limits.per_host },
    guidance: raw.guidance,
    source,
  };
  return { recipe, diagnostics: sortDiagnostics(diagnostics) };
}

export interface RecipeSet {
  readonly recipes: readonly Recipe[];
  readonly diagnostics: readonly Diagnostic[];
}

function readText(path: string, file: string, trust: DocumentTrust | undefined): { text?: string; diagnostic?: Diagnostic } {
  const r = readDocumentFile(path, trust);
  if ('text' in r) return { text: r.text };
  if (r.unsafe === true) {
    return { diagnostic: { severity: 'error', code: 'unsafe-permissions', file, line: 1, column: 1, message: `not loaded: ${r.error}`, ...(r.hint === undefined ? {} : { hint: r.hint }) } };
  }
  return { diagnostic: { severity: 'error', code: 'unreadable', file, line: 1, column: 1, message: `cannot read the file: ${r.error}` } };
}

/** The .yaml and .yml files of a directory, sorted; a missing directory is a diagnostic. */
export function recipeFilesIn(dir: string): { files: string[]; diagnostics: Diagnostic[] } {
  try {
    const names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && /\.ya?ml$/.test(e.name))
      .map((e) => join(dir, e.name))
      .sort();
    return { files: names, diagnostics: [] };
  } catch (e) {
    return { files: [], diagnostics: [{ severity: 'error', code: 'unreadable', file: dir, line: 1, column: 1, message: `cannot read the recipe directory: ${(e as Error).message}` }] };
  }
}

/**
 * Loads recipe files in order; the first file to define an id keeps it, later ones are
 * reported as duplicates. `already` are recipes loaded before (the built-ins). With `trust`
 * (as root), a file another user could have written is skipped (`unsafe-permissions`).
 */
export function loadRecipeFiles(files: readonly string[], already: readonly Recipe[] = [], trust?: DocumentTrust): RecipeSet {
  const recipes: Recipe[] = [];
  const diagnostics: Diagnostic[] = [];
  const byId = new Map(already.map((r) => [r.id, r.source]));
  for (const file of files) {
    const read = readText(file, file, trust);
    if (read.diagnostic !== undefined) {
      diagnostics.push(read.diagnostic);
      continue;
    }
    const r = parseRecipe(read.text ?? '', file);
    diagnostics.push(...r.diagnostics);
    if (r.recipe === undefined) continue;
    const first = byId.get(r.recipe.id);
    if (first !== undefined) {
      const doc = parseYamlDocument(read.text ?? '', file);
      diagnostics.push(at(doc, ['id'], 'duplicate-id', `recipe id "${r.recipe.id}" is already defined by ${first}`,
        'give this recipe its own id; to replace a built-in, disable it in tripline.yaml (recipes.disabled) and use a new id'));
      continue;
    }
    byId.set(r.recipe.id, file);
    recipes.push(r.recipe);
  }
  return { recipes, diagnostics };
}

/** The built-in recipes. A problem in them is a packaging bug, so it throws. */
export function loadBuiltinRecipes(): Recipe[] {
  const dir = fileURLToPath(BUILTIN_RECIPE_DIR);
  const { files, diagnostics: listing } = recipeFilesIn(dir);
  const recipes: Recipe[] = [];
  const problems = [...listing];
  for (const file of files) {
    const name = file.slice(dir.length);
    const r = parseRecipe(readFileSync(file, 'utf8'), `builtin/${name}`, `builtin:${name}`);
    problems.push(...r.diagnostics.filter((d) => d.severity === 'error'));
    if (r.recipe !== undefined) recipes.push(r.recipe);
  }
  if (problems.length > 0 || recipes.length === 0) {
    throw new Error(`the built-in recipes in ${dir} do not load:\n${problems.map((d) => `${d.file}:${String(d.line)}:${String(d.column)}: ${d.message}`).join('\n')}`);
  }
  return recipes;
}
