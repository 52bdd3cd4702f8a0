// `tripline recipes list | show ID | validate FILE... | explain ID -- COMMAND`: reading,
// checking and understanding the recipes without touching TypeScript.

import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTriplineConfig, type TriplineConfig } from '../config/tripline-config.ts';
import { formatDiagnostic, hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import { ExplainCollector } from '../outputs/explain-report.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { BUILTIN_RECIPE_DIR, loadRecipeFiles } from '../recipes/recipe-loader.ts';
import { recipeToJson, recipeToYaml } from '../recipes/recipe-writer.ts';
import type { CliIo, CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { RECIPES_EXPLAIN_HELP, RECIPES_HELP, RECIPES_LIST_HELP, RECIPES_SHOW_HELP, RECIPES_VALIDATE_HELP } from './help-text.ts';
import { nearest, parseCommandLine, type ParsedCommandLine } from './command-line.ts';
import { traceCommand } from './run-command.ts';
import { parseRunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';
import { visibleJson } from '../model/visible.ts';

export type RecipesIo = CommandIo;

/** Takes `--config FILE` / `--config=FILE` given before the subcommand (never from a command's own arguments). */
function takeConfig(args: readonly string[]): { config: string | undefined; rest: string[] } {
  const rest = [...args];
  let config: string | undefined;
  while (rest[0] === '--config' || rest[0]?.startsWith('--config=') === true) {
    const a = rest[0];
    const value = a === '--config' ? rest[1] : a.slice('--config='.length);
    if (value === undefined || value === '') throw new UsageError('recipes: --config needs a value');
    config = value;
    rest.splice(0, a === '--config' ? 2 : 1);
  }
  return { config, rest };
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function printDiagnostics(io: CliIo, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
}

const CONFIG = { config: { type: 'string' } } as const;
const JSON_FLAG = { json: { type: 'boolean' } } as const;

export async function recipesCommand(args: readonly string[], io: RecipesIo): Promise<number> {
  const { config: before, rest } = takeConfig(args);
  const [sub, ...subArgs] = rest;
  /** --config before the subcommand or among its options; not both. */
  const configOf = (o: ParsedCommandLine): string | undefined => {
    const own = o.values.get('config');
    if (own !== undefined && before !== undefined) throw new UsageError(`recipes ${sub ?? ''}: --config given twice`);
    return own ?? before;
  };
  switch (sub) {
    case 'list': {
      const o = parseCommandLine({ command: 'recipes list', options: { ...CONFIG, ...JSON_FLAG }, operands: 'none' }, subArgs);
      if (o.help) return help(io, RECIPES_LIST_HELP);
      return listRecipes(loadTriplineConfig({ config: configOf(o) }, io.env, io.cwd), io, o.flags.has('json'));
    }
    case 'show': {
      const o = parseCommandLine({ command: 'recipes show', options: { ...CONFIG, ...JSON_FLAG }, operands: 'any' }, subArgs);
      if (o.help) return help(io, RECIPES_SHOW_HELP);
      const [id, extra] = o.operands;
      if (id === undefined || extra !== undefined) throw new UsageError('recipes show: give one recipe id (see tripline recipes list)');
      const config = loadTriplineConfig({ config: configOf(o) }, io.env, io.cwd);
      printDiagnostics(io, config.recipeDiagnostics);
      const recipe = config.recipes.find((r) => r.id === id) ?? config.loadedRecipes.find((r) => r.id === id);
      if (recipe === undefined) throw new UsageError(`recipes show: no recipe "${id}"; loaded: ${config.loadedRecipes.map((r) => r.id).join(', ')}`);
      io.stdout.write(o.flags.has('json') ? `${visibleJson(recipeToJson(recipe), 2)}\n` : recipeToYaml(recipe));
      return EXIT.ok;
    }
    case 'validate': {
      const o = parseCommandLine({ command: 'recipes validate', options: {}, operands: 'any' }, subArgs);
      if (o.help) return help(io, RECIPES_VALIDATE_HELP);
      return validateRecipes(o.operands, io);
    }
    case 'explain':
      return explainRecipe(subArgs, before, io);
    case undefined:
      io.stderr.write(`${RECIPES_HELP}\n`);
      return EXIT.usage;
    case '--help':
    case '-h':
    case 'help':
      return help(io, RECIPES_HELP);
    default: {
      const near = nearest(sub, ['list', 'show', 'validate', 'explain']);
      throw new UsageError(`recipes: unknown subcommand "${sub}"${near === undefined ? '' : ` (did you mean ${near}?)`}; use list, show, validate or explain`);
    }
  }
}

function help(io: RecipesIo, text: string): number {
  io.stdout.write(`${text}\n`);
  return EXIT.ok;
}

function listRecipes(config: TriplineConfig, io: RecipesIo, json: boolean): number {
  printDiagnostics(io, config.recipeDiagnostics);
  const active = new Set(config.recipes.map((r) => r.id));
  if (json) {
    io.stdout.write(`${visibleJson(config.loadedRecipes.map((r) => {
      const effective = config.recipes.find((x) => x.id === r.id) ?? r;
      return {
        id: r.id, name: r.name, enabled: active.has(r.id), importance: r.importance, tactic: r.tactic, technique: r.technique,
        exceptions: effective.exceptions.length, source: r.source,
      };
    }), 2)}\n`);
    return EXIT.ok;
  }
  const rows = config.loadedRecipes.map((r) => {
    const effective = config.recipes.find((x) => x.id === r.id) ?? r;
    return [r.id, active.has(r.id) ? 'on' : 'off', r.importance, `${r.tactic.id}/${r.technique.id}`, String(effective.exceptions.length), r.source];
  });
  const head = ['ID', 'STATE', 'IMPORTANCE', 'MITRE', 'EXCEPTIONS', 'SOURCE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  for (const row of [head, ...rows]) io.stdout.write(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`);
  return EXIT.ok;
}

/** Checks recipe files like a compiler: every problem, then a summary; exit 1 on any error. */
function validateRecipes(files: readonly string[], io: RecipesIo): number {
  if (files.length === 0) throw new UsageError('recipes validate: give one or more recipe files');
  // A built-in given by its own path is checked as a file, not reported as its own duplicate.
  const given = new Set(files.map((f) => realPath(resolve(io.cwd, f))));
  const others = BUILTIN_RECIPES.filter((r) => !given.has(realPath(fileURLToPath(new URL(r.source.replace(/^builtin:/, ''), BUILTIN_RECIPE_DIR)))));
  const result = loadRecipeFiles(files, others);
  printDiagnostics(io, result.diagnostics);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = result.diagnostics.length - errors;
  io.stdout.write(`${String(files.length)} file(s): ${String(result.recipes.length)} recipe(s) valid, ${String(errors)} error(s), ${String(warnings)} warning(s)\n`);
  return hasErrors(result.diagnostics) ? EXIT.invalid : EXIT.ok;
}

/** Runs the command with this one recipe and shows, per process, what counted and why it fired or not. */
async function explainRecipe(args: readonly string[], configFlag: string | undefined, io: RecipesIo): Promise<number> {
  const [id, ...after] = args;
  if (id === '--help' || id === '-h') return help(io, RECIPES_EXPLAIN_HELP);
  if (id === undefined || id.startsWith('-')) throw new UsageError('recipes explain: usage: tripline recipes explain ID [run options] -- COMMAND [ARGS...]');
  const options = parseRunOptions(after, 'recipes explain');
  if (options.help) return help(io, RECIPES_EXPLAIN_HELP);
  if (options.config !== undefined && configFlag !== undefined) throw new UsageError('recipes explain: --config given twice');
  const config = loadTriplineConfig({ ...options, config: options.config ?? configFlag }, io.env, io.cwd);
  printDiagnostics(io, config.recipeDiagnostics);
  const recipe = config.recipes.find((r) => r.id === id) ?? config.loadedRecipes.find((r) => r.id === id);
  if (recipe === undefined) throw new UsageError(`recipes explain: no recipe "${id}"; loaded: ${config.loadedRecipes.map((r) => r.id).join(', ')}`);
  const collector = new ExplainCollector(recipe);
  let explanation = '';
  const code = await traceCommand({
    // No outputs: explaining a run must not overwrite the JSONL file of real runs.
    command: options.command, quiet: true, failOn: 'never', sensor: config.sensor.value, outputs: undefined,
    environment: config.environment, recipes: [recipe], trace: collector.observe,
    onFinished: (session) => {
      explanation = collector.render((pid) => session.pipeline.normalizer.processes.get(pid));
    },
  }, io);
  io.stdout.write(`${explanation}\n`);
  return code;
}
