// `tripline config show`: the effective configuration and where each value came from
// (a flag, a TRIPLINE_* variable, a line of the configuration file, or the default).

import { stringify } from 'yaml';
import { loadTriplineConfig, type Sourced } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { EXIT } from './exit-codes.ts';
import { CONFIG_HELP } from './help-text.ts';
import type { CommandIo } from './detection-session.ts';
import { parseCommandLine } from './command-line.ts';
import { UsageError } from './usage-error.ts';
import { visibleJson } from '../model/visible.ts';

const COMMENT_COLUMN = 50;

function line(key: string, v: Sourced<unknown>, indent = ''): string {
  const value = v.value === undefined ? '~' : stringify(v.value, { flowCollectionPadding: false }).trim().replace(/\n\s*/g, ' ');
  return commented(`${indent}${key}: ${value}`, v.source);
}

function commented(text: string, comment: string): string {
  return `${text.padEnd(COMMENT_COLUMN)}  # ${comment}`;
}

export function configCommand(args: readonly string[], io: CommandIo): number {
  const [sub, ...rest] = args;
  if (sub === undefined) {
    io.stderr.write(`${CONFIG_HELP}\n`);
    return EXIT.usage;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(`${CONFIG_HELP}\n`);
    return EXIT.ok;
  }
  if (sub !== 'show') throw new UsageError(`config: unknown subcommand "${sub}" (show); see tripline config --help`);
  const o = parseCommandLine({ command: 'config show', options: { config: { type: 'string' }, json: { type: 'boolean' } }, operands: 'none' }, rest);
  if (o.help) {
    io.stdout.write(`${CONFIG_HELP}\n`);
    return EXIT.ok;
  }
  const c = loadTriplineConfig({ config: o.values.get('config') }, io.env, io.cwd);
  for (const d of c.recipeDiagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (o.flags.has('json')) {
    const sourced = <T>(v: Sourced<T>): { value: T | null; source: string } => ({ value: v.value ?? null, source: v.source });
    io.stdout.write(`${visibleJson({
      file: c.file ?? null,
      environment: sourced(c.environment), environmentLabel: sourced(c.environmentLabel), failOn: sourced(c.failOn), sensor: sourced(c.sensor),
      outputs: { jsonl: sourced(c.jsonl) },
      recipes: {
        enabled: sourced(c.enabled), disabled: sourced(c.disabled),
        directories: c.recipeDirectories.map((d) => ({ path: d.value, source: d.source })),
        running: c.recipes.map((r) => ({ id: r.id, source: r.source, exceptions: r.exceptions.length })),
      },
      exceptions: c.exceptions.map((e) => ({ name: e.exception.name, recipe: e.recipe ?? null, origin: e.exception.origin })),
    }, 2)}\n`);
    return EXIT.ok;
  }
  const out: string[] = [
    `# effective configuration; file: ${c.file ?? 'none (looked for --config, TRIPLINE_CONFIG, ./tripline.yaml, /etc/tripline/config.yaml)'}`,
    line('environment', c.environment.value === undefined ? { value: 'auto', source: c.environment.source } : c.environment),
    ...(c.environmentLabel.value === undefined ? [] : [line('environment_label', c.environmentLabel)]),
    line('fail_on', c.failOn),
    line('sensor', c.sensor),
    'outputs:',
    line('jsonl', c.jsonl, '  '),
    'recipes:',
    line('enabled', c.enabled.value === undefined ? { value: 'all', source: c.enabled.source } : c.enabled, '  '),
    line('disabled', c.disabled, '  '),
    c.recipeDirectories.length === 0 ? commented('  directories: []', 'default') : '  directories:',
    ...c.recipeDirectories.map((d) => commented(`    - ${d.value}`, d.source)),
    '  running:',
    ...c.recipes.map((r) => commented(`    - ${r.id}`, `${r.source}, ${String(r.exceptions.length)} exception(s)`)),
    c.exceptions.length === 0 ? commented('exceptions: []', 'default (a recipe\'s own: tripline recipes show ID)') : 'exceptions:',
    ...c.exceptions.map((e) => commented(`  - ${e.exception.name} (recipe ${e.recipe ?? 'every recipe'})`, e.exception.origin)),
  ];
  io.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}
