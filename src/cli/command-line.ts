// The one argument parser of every tripline command and subcommand: node's util.parseArgs
// tokenizes; this file decides, with one style of error for all of them: unknown options
// (with the nearest known one suggested), missing values, a value that looks like an option,
// a value given to a flag, options given twice, and operands where none are taken.

import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.ts';

export interface OptionDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** May be given more than once (collected in order). */
  readonly multiple?: boolean;
}

export interface CommandLineSpec {
  /** How the command is named in errors: "run", "recipes show". */
  readonly command: string;
  readonly options: Readonly<Record<string, OptionDef>>;
  /**
   * `none`: no operands; `any`: operands anywhere among the options; `command`: options end
   * at `--` or at the first operand, and everything after is a command line, taken as is.
   */
  readonly operands: 'none' | 'any' | 'command';
}

export interface ParsedCommandLine {
  readonly values: ReadonlyMap<string, string>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly flags: ReadonlySet<string>;
  readonly operands: readonly string[];
  /** -h or --help was given: the command prints its help and does nothing else. */
  readonly help: boolean;
}

const HELP: OptionDef = { type: 'boolean', short: 'h' };

export function parseCommandLine(spec: CommandLineSpec, args: readonly string[]): ParsedCommandLine {
  const options: Record<string, OptionDef> = { help: HELP, ...spec.options };
  const where = `see tripline ${spec.command} --help`;
  let optionArgs = [...args];
  let command: string[] = [];
  if (spec.operands === 'command') {
    const end = optionsEnd(options, args);
    optionArgs = args.slice(0, end.index);
    command = args.slice(end.index + (end.terminator ? 1 : 0));
  }
  const { tokens } = parseArgs({
    args: optionArgs,
    options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short === undefined ? {} : { short: o.short }) }])),
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const flags = new Set<string>();
  const operands: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (spec.operands === 'none') throw new UsageError(`${spec.command}: unexpected argument "${token.value}" (${where})`);
      operands.push(token.value);
      continue;
    }
    const def = options[token.name];
    const shown = token.rawName;
    if (def === undefined) {
      const near = nearest(token.name, Object.keys(options));
      throw new UsageError(`${spec.command}: unknown option ${shown}${near === undefined ? '' : ` (did you mean --${near}?)`}; ${where}`);
    }
    if (def.type === 'boolean') {
      if (token.inlineValue) throw new UsageError(`${spec.command}: ${shown} takes no value (${where})`);
      flags.add(token.name);
      continue;
    }
    const value = token.value;
    if (value === undefined || value === '') throw new UsageError(`${spec.command}: ${shown} needs a value (${where})`);
    // `--jsonl -- true` must not write a file named "--": a value that looks like an option is a mistake.
    if (!token.inlineValue && value.startsWith('-') && value !== '-') {
      throw new UsageError(`${spec.command}: ${shown} needs a value, not the option-like "${value}" (write ${shown}=${value} if that is really the value)`);
    }
    if (def.multiple === true) {
      lists.set(token.name, [...(lists.get(token.name) ?? []), value]);
      continue;
    }
    if (values.has(token.name)) throw new UsageError(`${spec.command}: ${shown} given twice`);
    values.set(token.name, value);
  }
  return { values, lists, flags, operands: spec.operands === 'command' ? command : operands, help: flags.has('help') };
}

/** Where the options of a `command`-style line end: at `--` (a terminator) or the first operand. */
function optionsEnd(options: Readonly<Record<string, OptionDef>>, args: readonly string[]): { index: number; terminator: boolean } {
  const byShort = new Map(Object.entries(options).flatMap(([name, o]) => (o.short === undefined ? [] : [[o.short, name] as const])));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') return { index: i, terminator: true };
    if (!arg.startsWith('-') || arg === '-') return { index: i, terminator: false };
    // An option taking a value in the next word skips that word (`--jsonl FILE`, `-o FILE`).
    const long = /^--([^=]+)$/.exec(arg)?.[1];
    const short = /^-([^-])$/.exec(arg)?.[1];
    const name = long ?? (short === undefined ? undefined : byShort.get(short));
    if (name !== undefined && options[name]?.type === 'string') {
      const next = args[i + 1];
      // A missing or option-like value is reported by the parser, from the option part alone.
      if (next !== undefined && !(next.startsWith('-') && next !== '-')) i++;
    }
  }
  return { index: args.length, terminator: false };
}

/** The known option closest to a mistyped one (at most 2 edits, or a prefix), if any. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    const d = k.startsWith(name) && name.length >= 2 ? 1 : editDistance(name, k);
    if (d <= Math.min(2, Math.max(1, Math.floor(k.length / 3))) && (best === undefined || d < best.distance)) best = { name: k, distance: d };
  }
  return best?.name;
}

/** Levenshtein distance, with an adjacent swap counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
      const row = rows[i];
      if (row !== undefined) row[j] = d;
    }
  }
  return at(a.length, b.length);
}
