// Configuration: tripline.yaml (found via --config, TRIPLINE_CONFIG, ./tripline.yaml or
// /etc/tripline/config.yaml), overridden by TRIPLINE_* variables, overridden by flags. Every
// effective value remembers where it came from, for `tripline config show`.

import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { schemaCheck } from '../documents/schema-validator.ts';
import { validate as validateConfigV1 } from '../documents/validators/config-v1.ts';
import { parseYamlDocument, type YamlDocument } from '../documents/yaml-document.ts';
import { documentTrust, readDocumentFile } from '../documents/document-file.ts';
import { ConfigError } from './config-error.ts';
import { parseByteSize, parseDurationMs } from './parse-quantity.ts';
import { resolveNatsConfig, type NatsConfig, type RawNatsSection } from './nats-config.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../model/diagnostic.ts';
import { isEnvironmentKind, type EnvironmentKind } from '../model/environment.ts';
import { isLabelKey } from '../model/container.ts';
import { isImportance, type Importance } from '../model/importance.ts';
import type { Recipe, RecipeException } from '../model/recipe.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { checkException, convertException, loadRecipeFiles, recipeFilesIn, type RawException } from '../recipes/recipe-loader.ts';

export const SENSOR_CHOICES = ['auto', 'ptrace', 'ebpf'] as const;
export type SensorChoice = (typeof SENSOR_CHOICES)[number];
export type FailOn = Importance | 'never';

/** A value and where it came from: "default", "tripline.yaml:4:3", "TRIPLINE_FAIL_ON", "--fail-on". */
export interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

/** The flags a command was given (undefined: not given). */
export interface ConfigFlags {
  readonly config?: string | undefined;
  readonly environment?: string | undefined;
  readonly failOn?: string | undefined;
  readonly sensor?: string | undefined;
  readonly jsonl?: string | undefined;
  /** `--jsonl-final-only`: one JSONL line per detection (its closed revision) rather than every revision. */
  readonly jsonlFinalOnly?: boolean | undefined;
  /** `--output KIND[=TARGET]`, repeatable: each overrides the configured output of that kind. */
  readonly outputs?: readonly string[] | undefined;
  /** `--store PATH`: the detection store's file. */
  readonly store?: string | undefined;
  /** `--no-store`: no detection store. */
  readonly noStore?: boolean | undefined;
}

/** The detection store run and watch write (src/store/, docs/store.md). */
export interface StoreConfig {
  /** The file; undefined: the default for this user (defaultStorePath); null: no store. */
  readonly path: Sourced<string | null | undefined>;
  /** Size cap of the file in bytes (store.max_size). */
  readonly maxBytes: Sourced<number | undefined>;
  /** Detections last recorded longer ago are removed (store.retention). */
  readonly retentionMs: Sourced<number | undefined>;
}

export const OUTPUT_KINDS = ['jsonl', 'sarif', 'junit', 'webhook', 'github', 'nats'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** Where detections go besides the terminal; each with the place it was configured. */
export interface OutputsConfig {
  readonly jsonl: Sourced<string | undefined>;
  /** Append to the JSONL file instead of starting it anew (several runs in one CI job). */
  readonly jsonlAppend: Sourced<boolean>;
  /**
   * One line per detection (its closed revision) rather than every revision as it is made;
   * undefined: the command decides (`watch` writes every revision, `run` the final one).
   */
  readonly jsonlFinalOnly?: Sourced<boolean | undefined>;
  readonly sarif: Sourced<string | undefined>;
  readonly junit: Sourced<string | undefined>;
  readonly webhook: Sourced<string | undefined>;
  /** From the configuration or TRIPLINE_WEBHOOK_SECRET; never printed. */
  readonly webhookSecret: Sourced<string | undefined>;
  /** GitHub annotations, job summary and step outputs: auto (when GITHUB_ACTIONS=true), on or off. */
  readonly github: Sourced<'auto' | 'on' | 'off'>;
  /** NATS JetStream (the fleet transport: src/fleet/, docs/fleet.md); undefined: none. */
  readonly nats?: NatsConfig | undefined;
}

export interface ConfiguredException {
  /** The recipe it belongs to, or undefined for every recipe. */
  readonly recipe: string | undefined;
  readonly exception: RecipeException;
}

export interface TriplineConfig {
  /** The configuration file read, if any. */
  readonly file: string | undefined;
  /** undefined value: decided from the CI variables. */
  readonly environment: Sourced<EnvironmentKind | undefined>;
  /** watch: the pod (or container) label naming a detection's environment (ci, staging, production), if any. */
  readonly environmentLabel: Sourced<string | undefined>;
  readonly failOn: Sourced<FailOn>;
  readonly sensor: Sourced<SensorChoice>;
  readonly jsonl: Sourced<string | undefined>;
  readonly outputs: OutputsConfig;
  readonly store: StoreConfig;
  readonly recipeDirectories: readonly Sourced<string>[];
  readonly enabled: Sourced<readonly string[] | undefined>;
  readonly disabled: Sourced<readonly string[]>;
  readonly exceptions: readonly ConfiguredException[];
  /** The recipes that run: built-ins and the directories' recipes, filtered, with the configured exceptions added. */
  readonly recipes: readonly Recipe[];
  /** Every loaded recipe before enabled/disabled (for `recipes list`). */
  readonly loadedRecipes: readonly Recipe[];
  /** Problems of the configuration file (errors stop a command) and of recipe files (skipped, reported). */
  readonly configDiagnostics: readonly Diagnostic[];
  readonly recipeDiagnostics: readonly Diagnostic[];
}

export { ConfigError } from './config-error.ts';

const SYSTEM_CONFIG = '/etc/tripline/config.yaml';

/** Generated from schema/config-v1.schema.json (which refers to the recipe schema) ahead of time (npm run build:validators). */
const checkConfigSchema = schemaCheck(validateConfigV1 as unknown as ValidateFunction);

interface RawConfig {
  readonly recipes?: { readonly directories?: readonly string[]; readonly enabled?: readonly string[]; readonly disabled?: readonly string[] };
  readonly exceptions?: readonly RawException[];
  readonly environment?: EnvironmentKind | 'auto';
  readonly environment_label?: string;
  readonly fail_on?: FailOn;
  readonly sensor?: SensorChoice;
  readonly outputs?: {
    readonly jsonl?: string;
    readonly jsonl_append?: boolean;
    readonly jsonl_final_only?: boolean;
    readonly sarif?: string;
    readonly junit?: string;
    readonly webhook?: { readonly url: string; readonly secret?: string };
    readonly github?: 'auto' | 'on' | 'off';
    readonly nats?: RawNatsSection;
  };
  readonly store?: { readonly enabled?: boolean; readonly path?: string; readonly max_size?: string; readonly retention?: string };
}

/** Which configuration file applies: the flag, TRIPLINE_CONFIG, ./tripline.yaml, /etc/tripline/config.yaml, or none. */
function findConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Sourced<string> | undefined {
  if (flag !== undefined) return { value: resolve(cwd, flag), source: '--config' };
  const fromEnv = env.TRIPLINE_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return { value: resolve(cwd, fromEnv), source: 'TRIPLINE_CONFIG' };
  const local = resolve(cwd, 'tripline.yaml');
  if (existsSync(local)) return { value: local, source: './tripline.yaml' };
  if (existsSync(SYSTEM_CONFIG)) return { value: SYSTEM_CONFIG, source: SYSTEM_CONFIG };
  return undefined;
}

/** `--output KIND[=TARGET]` values; throws a usage ConfigError naming the bad one. */
function parseOutputFlags(values: readonly string[]): Map<OutputKind, Sourced<string | undefined>> {
  const out = new Map<OutputKind, Sourced<string | undefined>>();
  for (const v of values) {
    const eq = v.indexOf('=');
    const kind = eq < 0 ? v : v.slice(0, eq);
    const target = eq < 0 ? undefined : v.slice(eq + 1);
    if (!(OUTPUT_KINDS as readonly string[]).includes(kind)) {
      throw new ConfigError(`--output ${v}: unknown output "${kind}"; use jsonl=FILE, sarif=FILE, junit=FILE, webhook=URL, nats=URL or github`, [], true);
    }
    if (kind !== 'github' && (target === undefined || target === '')) throw new ConfigError(`--output ${v}: ${kind} needs a target (${kind}=${kind === 'webhook' || kind === 'nats' ? 'URL' : 'FILE'})`, [], true);
    // Never echoed: a webhook URL often carries the hook's secret.
    if (kind === 'webhook' && !/^https?:\/\//i.test(target ?? '')) throw new ConfigError('--output webhook=…: a webhook URL starts with http:// or https://', [], true);
    out.set(kind as OutputKind, { value: target, source: `--output ${kind}` });
  }
  return out;
}

function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function choose<T>(name: string, flag: string | undefined, envName: string, env: NodeJS.ProcessEnv, file: Sourced<T> | undefined, fallback: T, valid: (v: string) => boolean, allowed: string): Sourced<T> {
  for (const [source, value] of [[name, flag], [envName, env[envName]]] as const) {
    if (value === undefined || value === '') continue;
    if (!valid(value)) throw new ConfigError(`${source}: "${value}" is not valid; use ${allowed}`, [], source === name);
    return { value: value as T, source };
  }
  return file ?? { value: fallback, source: 'default' };
}

/**
 * The store's settings: --no-store, --store PATH, TRIPLINE_STORE (a path, or "off"), then the
 * file's store section (a relative path is the file's, as recipe directories are).
 */
function storeConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv, cwd: string, base: string, raw: RawConfig['store'],
  fileValue: <T>(path: readonly (string | number)[], value: T | undefined) => Sourced<T> | undefined): StoreConfig {
  if (flags.noStore === true && flags.store !== undefined) throw new ConfigError('--store and --no-store contradict each other: give one', [], true);
  const fromEnv = env.TRIPLINE_STORE;
  const path: Sourced<string | null | undefined> = flags.noStore === true ? { value: null, source: '--no-store' }
    : flags.store !== undefined ? { value: resolve(cwd, flags.store), source: '--store' }
      : fromEnv !== undefined && fromEnv !== '' ? { value: fromEnv === 'off' ? null : resolve(cwd, fromEnv), source: 'TRIPLINE_STORE' }
        : raw?.enabled === false ? { value: null, source: fileValue(['store', 'enabled'], raw.enabled)?.source ?? 'file' }
          : raw?.path !== undefined ? { value: resolve(base, raw.path), source: fileValue(['store', 'path'], raw.path)?.source ?? 'file' }
            : { value: undefined, source: 'default' };
  const quantity = (key: 'max_size' | 'retention', parse: (t: string) => number | undefined, what: string): Sourced<number | undefined> => {
    const text = raw?.[key];
    const at = fileValue(['store', key], text);
    if (text === undefined || at === undefined) return { value: undefined, source: 'default' };
    const value = parse(text);
    if (value === undefined) throw new ConfigError(`${at.source}: store.${key} "${text}" is not ${what}`);
    return { value, source: at.source };
  };
  return {
    path,
    maxBytes: quantity('max_size', parseByteSize, 'a size (512MiB, 2GB, 1048576)'),
    retentionMs: quantity('retention', parseDurationMs, 'a duration (30d, 12h, 2w)'),
  };
}

/**
 * The effective configuration. Throws ConfigError when the configuration file cannot be read
 * or has errors (running with half a configuration could drop an exception or a policy), and
 * for bad TRIPLINE_* values. Broken recipe files are skipped and reported in recipeDiagnostics.
 */
export function loadTriplineConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv, cwd: string): TriplineConfig {
  const found = findConfigFile(flags.config, env, cwd);
  // As root, only files nobody else could have written are obeyed (a tripline.yaml planted in
  // a shared working directory could except everything); see DocumentTrust.
  const trust = documentTrust(env);
  let raw: RawConfig = {};
  let doc: YamlDocument | undefined;
  const configDiagnostics: Diagnostic[] = [];
  if (found !== undefined) {
    const read = readDocumentFile(found.value, trust);
    // Refused for who could have written it: a configuration error (78) wherever the name came from.
    if ('error' in read && read.unsafe === true) throw new ConfigError(`${found.source}: refusing to use ${found.value}: ${read.error}; fix: ${read.hint ?? 'remove it'}`);
    // A --config that cannot be read is a bad command line; the other sources are configuration.
    if ('error' in read) throw new ConfigError(`${found.source}: cannot read ${found.value}: ${read.error}`, [], found.source === '--config');
    const text = read.text;
    const parsed = parseYamlDocument(text, found.value);
    doc = parsed;
    configDiagnostics.push(...doc.diagnostics);
    if (doc.value !== undefined) {
      configDiagnostics.push(...checkConfigSchema(doc));
      const value: unknown = doc.value;
      const exceptions = typeof value === 'object' && value !== null && 'exceptions' in value ? value.exceptions : undefined;
      if (Array.isArray(exceptions)) exceptions.forEach((e: unknown, i) => { configDiagnostics.push(...checkException(e, parsed, ['exceptions', i])); });
    }
    if (hasErrors(configDiagnostics)) throw new ConfigError(`the configuration file ${found.value} has errors`, sortDiagnostics(configDiagnostics));
    raw = (parsed.value ?? {});
  }
  const fileValue = <T>(path: readonly (string | number)[], value: T | undefined): Sourced<T> | undefined => {
    if (value === undefined || doc === undefined) return undefined;
    const p = doc.position(path);
    return { value, source: `${doc.file}:${String(p.line)}:${String(p.column)}` };
  };
  const base = found === undefined ? cwd : dirname(found.value);

  const envKind = choose<EnvironmentKind | 'auto'>('--environment', flags.environment, 'TRIPLINE_ENVIRONMENT', env, fileValue(['environment'], raw.environment), 'auto',
    (v) => v === 'auto' || isEnvironmentKind(v), 'auto, ci, staging, production, development or unknown');
  const environment: Sourced<EnvironmentKind | undefined> = { value: envKind.value === 'auto' ? undefined : envKind.value, source: envKind.source };
  const environmentLabel = choose<string | undefined>('environment_label', undefined, 'TRIPLINE_ENVIRONMENT_LABEL', env, fileValue(['environment_label'], raw.environment_label), undefined,
    isLabelKey, 'a Kubernetes label key (tripline.io/environment)');
  const failOn = choose<FailOn>('--fail-on', flags.failOn, 'TRIPLINE_FAIL_ON', env, fileValue(['fail_on'], raw.fail_on), 'never',
    (v) => v === 'never' || isImportance(v), 'never, low, medium, high or critical');
  const sensor = choose<SensorChoice>('--sensor', flags.sensor, 'TRIPLINE_SENSOR', env, fileValue(['sensor'], raw.sensor), 'auto',
    (v) => (SENSOR_CHOICES as readonly string[]).includes(v), 'auto, ptrace or ebpf');
  const jsonlChoice = choose<string | undefined>('--jsonl', flags.jsonl, 'TRIPLINE_JSONL', env, fileValue(['outputs', 'jsonl'], raw.outputs?.jsonl), undefined, () => true, 'a file');
  const flagOutputs = parseOutputFlags(flags.outputs ?? []);
  if (flags.jsonl !== undefined && flagOutputs.has('jsonl')) throw new ConfigError('--jsonl and --output jsonl= name the same output: give one', [], true);
  const path = (s: Sourced<string | undefined>): Sourced<string | undefined> => ({ value: s.value === undefined ? undefined : resolve(cwd, s.value), source: s.source });
  const jsonl = path(flagOutputs.get('jsonl') ?? jsonlChoice);
  const pick = (kind: OutputKind, envName: string, fromFile: string | undefined, filePath: (string | number)[]): Sourced<string | undefined> =>
    flagOutputs.get(kind) ?? choose<string | undefined>(`--output ${kind}`, undefined, envName, env, fileValue(filePath, fromFile), undefined, () => true, '');
  const o = raw.outputs;
  const githubChoice = flagOutputs.has('github') ? { value: 'on' as const, source: '--output github' }
    : choose<'auto' | 'on' | 'off'>('--output github', undefined, 'TRIPLINE_GITHUB', env, fileValue(['outputs', 'github'], o?.github), 'auto', (v) => ['auto', 'on', 'off'].includes(v), 'auto, on or off');
  const natsChoice = pick('nats', 'TRIPLINE_NATS_URL', o?.nats?.url, ['outputs', 'nats', 'url']);
  const appendEnv = env.TRIPLINE_JSONL_APPEND;
  const finalOnlyEnv = env.TRIPLINE_JSONL_FINAL_ONLY;
  const finalOnlyFromEnv = finalOnlyEnv === undefined || finalOnlyEnv === '' ? undefined : { '1': true, true: true, '0': false, false: false }[finalOnlyEnv];
  if (finalOnlyEnv !== undefined && finalOnlyEnv !== '' && finalOnlyFromEnv === undefined) {
    throw new ConfigError(`TRIPLINE_JSONL_FINAL_ONLY: "${finalOnlyEnv}" is not valid; use 1, true, 0 or false`, [], false);
  }
  const outputs: OutputsConfig = {
    jsonl,
    jsonlAppend: appendEnv !== undefined && appendEnv !== '' ? { value: appendEnv !== '0' && appendEnv !== 'false', source: 'TRIPLINE_JSONL_APPEND' }
      : (fileValue(['outputs', 'jsonl_append'], o?.jsonl_append) ?? { value: false, source: 'default' }),
    jsonlFinalOnly: flags.jsonlFinalOnly === true ? { value: true, source: '--jsonl-final-only' }
      : finalOnlyFromEnv !== undefined ? { value: finalOnlyFromEnv, source: 'TRIPLINE_JSONL_FINAL_ONLY' }
        : (fileValue(['outputs', 'jsonl_final_only'], o?.jsonl_final_only) ?? { value: undefined, source: 'default' }),
    sarif: path(pick('sarif', 'TRIPLINE_SARIF', o?.sarif, ['outputs', 'sarif'])),
    junit: path(pick('junit', 'TRIPLINE_JUNIT', o?.junit, ['outputs', 'junit'])),
    webhook: pick('webhook', 'TRIPLINE_WEBHOOK_URL', o?.webhook?.url, ['outputs', 'webhook', 'url']),
    webhookSecret: env.TRIPLINE_WEBHOOK_SECRET !== undefined && env.TRIPLINE_WEBHOOK_SECRET !== ''
      ? { value: env.TRIPLINE_WEBHOOK_SECRET, source: 'TRIPLINE_WEBHOOK_SECRET' }
      : (fileValue(['outputs', 'webhook', 'secret'], o?.webhook?.secret) ?? { value: undefined, source: 'default' }),
    github: githubChoice,
    nats: natsChoice.value === undefined ? undefined
      : resolveNatsConfig({ value: natsChoice.value, source: natsChoice.source }, o?.nats, env, cwd, base, (key) => fileValue(['outputs', 'nats', ...key.split('.')], key)?.source ?? 'outputs.nats'),
  };
  const store = storeConfig(flags, env, cwd, base, raw.store, fileValue);

  // Recipe directories: the file's (relative to it), then TRIPLINE_RECIPE_DIRS (colon-separated, relative to cwd).
  const recipeDirectories: Sourced<string>[] = (raw.recipes?.directories ?? []).map((d, i) => ({
    value: resolve(base, d), source: fileValue(['recipes', 'directories', i], d)?.source ?? 'file',
  }));
  for (const d of (env.TRIPLINE_RECIPE_DIRS ?? '').split(':').filter((x) => x !== '')) recipeDirectories.push({ value: resolve(cwd, d), source: 'TRIPLINE_RECIPE_DIRS' });

  const enabledEnv = env.TRIPLINE_RECIPES_ENABLED;
  const enabled: Sourced<readonly string[] | undefined> = enabledEnv !== undefined && enabledEnv !== ''
    ? { value: list(enabledEnv), source: 'TRIPLINE_RECIPES_ENABLED' }
    : (fileValue(['recipes', 'enabled'], raw.recipes?.enabled) ?? { value: undefined, source: 'default' });
  const disabledEnv = env.TRIPLINE_RECIPES_DISABLED;
  const disabled: Sourced<readonly string[]> = disabledEnv !== undefined && disabledEnv !== ''
    ? { value: list(disabledEnv), source: 'TRIPLINE_RECIPES_DISABLED' }
    : (fileValue(['recipes', 'disabled'], raw.recipes?.disabled) ?? { value: [], source: 'default' });

  const exceptions: ConfiguredException[] = (raw.exceptions ?? []).map((e, i) => ({
    recipe: e.recipe,
    exception: convertException(e, `${doc?.file ?? 'config'}:${String(doc?.position(['exceptions', i]).line ?? 0)}`),
  }));

  // Recipes: built-ins first, then each directory's files in order.
  const recipeDiagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const d of recipeDirectories) {
    const r = recipeFilesIn(d.value);
    files.push(...r.files);
    recipeDiagnostics.push(...r.diagnostics);
  }
  const user = loadRecipeFiles(files, BUILTIN_RECIPES, trust);
  recipeDiagnostics.push(...user.diagnostics);
  const loadedRecipes = [...BUILTIN_RECIPES, ...user.recipes];
  const known = new Set(loadedRecipes.map((r) => r.id));

  // Names that match no recipe are configuration mistakes a user must hear about. When a recipe
  // file was skipped for its errors, the name may be its recipe's: then it is a warning, so a
  // broken user recipe never stops the built-ins from running.
  const unknownIds: { message: string; path: readonly (string | number)[] | undefined; source: string }[] = [];
  const check = (what: string, ids: readonly string[], source: string, path: (i: number) => (string | number)[]): void => {
    ids.forEach((id, i) => {
      if (!known.has(id)) unknownIds.push({ message: `${what}: no recipe has the id "${id}"`, path: source === 'default' || source.startsWith('TRIPLINE_') ? undefined : path(i), source });
    });
  };
  check('recipes.enabled', enabled.value ?? [], enabled.source, (i) => ['recipes', 'enabled', i]);
  check('recipes.disabled', disabled.value, disabled.source, (i) => ['recipes', 'disabled', i]);
  (raw.exceptions ?? []).forEach((e, i) => { if (e.recipe !== undefined) check(`exceptions[${String(i)}].recipe`, [e.recipe], 'file', () => ['exceptions', i, 'recipe']); });
  if (unknownIds.length > 0) {
    const loaded = `loaded recipes: ${[...known].join(', ')}`;
    if (!hasErrors(recipeDiagnostics)) throw new ConfigError(`${unknownIds.map((u) => u.message).join('; ')}; ${loaded}`);
    for (const u of unknownIds) {
      const at = u.path !== undefined && doc !== undefined ? { file: doc.file, ...doc.position(u.path) } : { file: u.source, line: 1, column: 1 };
      recipeDiagnostics.push({ severity: 'warning', code: 'unknown-recipe', ...at, message: u.message, hint: `a recipe file with errors was skipped (see above); ${loaded}` });
    }
  }

  const recipes = loadedRecipes
    .filter((r) => (enabled.value === undefined || enabled.value.includes(r.id)) && !disabled.value.includes(r.id))
    .map((r) => {
      const extra = exceptions.filter((e) => e.recipe === undefined || e.recipe === r.id).map((e) => e.exception);
      return extra.length === 0 ? r : { ...r, exceptions: [...r.exceptions, ...extra] };
    });
  if (recipes.length === 0) {
    throw new ConfigError(`no recipe would run (recipes.enabled ${enabled.source}, recipes.disabled ${disabled.source}); loaded recipes: ${[...known].join(', ')}`, sortDiagnostics(recipeDiagnostics));
  }
  return {
    file: found?.value, environment, environmentLabel, failOn, sensor, jsonl, outputs, store, recipeDirectories, enabled, disabled, exceptions,
    recipes, loadedRecipes, configDiagnostics, recipeDiagnostics: sortDiagnostics(recipeDiagnostics),
  };
}
