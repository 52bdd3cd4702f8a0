// Options of the simpler commands (watch, report), parsed by node's util.parseArgs: one way
// to spell --name VALUE, --name=VALUE, repeatable options and flags, with usage errors that
// name the command and the argument.

import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.ts';

export interface OptionSpec {
  /** Options taking a value; repeatable ones are collected in order. */
  readonly values: readonly string[];
  readonly repeatable?: readonly string[];
  /** Options without a value (--quiet). */
  readonly flags: readonly string[];
}

export interface ParsedOptions {
  readonly values: ReadonlyMap<string, string>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly flags: ReadonlySet<string>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

export function parseCommandOptions(command: string, args: readonly string[], spec: OptionSpec, positionals = false): ParsedOptions {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const v of spec.values) options[v] = { type: 'string' };
  for (const v of spec.repeatable ?? []) options[v] = { type: 'string', multiple: true };
  for (const f of spec.flags) options[f] = { type: 'boolean', ...(f === 'quiet' ? { short: 'q' } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: positionals, strict: true });
  } catch (error) {
    // parseArgs says what is wrong in its own words ("Unknown option '--x'"); keep them, add where.
    throw new UsageError(`${command}: ${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')} (see tripline ${command} --help)`, { cause: error });
  }
  const values = new Map<string, string>();
  const lists = new Map<string, readonly string[]>();
  const flags = new Set<string>();
  for (const [k, v] of Object.entries(parsed.values)) {
    if (typeof v === 'boolean') {
      if (v) flags.add(k);
    } else if (Array.isArray(v)) {
      if (v.some((x) => x === '')) throw new UsageError(`${command}: --${k} needs a value`);
      lists.set(k, v.filter((x): x is string => typeof x === 'string'));
    } else if (typeof v === 'string') {
      if (v === '') throw new UsageError(`${command}: --${k} needs a value`);
      values.set(k, v);
    }
  }
  return { values, lists, flags, positionals: parsed.positionals, help: flags.has('help') };
}
