// Parsing `tripline run` arguments: options up to "--" or the first non-option word, then the command.

import { isImportance } from '../model/importance.ts';
import { SENSOR_CHOICES, type StoreConfig } from '../config/tripline-config.ts';
import type { SessionStoreSettings } from '../store/session-store.ts';
import { parseCommandLine, type OptionDef } from './command-line.ts';
import { UsageError } from './usage-error.ts';

/** The command line of `run`; options not given are undefined (the configuration decides). */
export interface RunOptions {
  readonly command: readonly string[];
  readonly config: string | undefined;
  readonly jsonl: string | undefined;
  /** `--jsonl-final-only`: true when given, else undefined (the configuration decides). */
  readonly jsonlFinalOnly: true | undefined;
  readonly failOn: string | undefined;
  readonly environment: string | undefined;
  readonly quiet: boolean;
  readonly help: boolean;
  readonly sensor: string | undefined;
  /** `--output KIND[=TARGET]`, in order (repeatable). */
  readonly outputs: readonly string[];
  /** `--store PATH`: the detection store's file. */
  readonly store: string | undefined;
  /** `--no-store`. */
  readonly noStore: boolean;
}

/** run's options; `recipes explain` takes the same. */
export const RUN_OPTIONS = {
  config: { type: 'string' }, jsonl: { type: 'string' }, 'jsonl-final-only': { type: 'boolean' }, 'fail-on': { type: 'string' }, environment: { type: 'string' },
  sensor: { type: 'string' }, output: { type: 'string', multiple: true }, quiet: { type: 'boolean', short: 'q' },
  store: { type: 'string' }, 'no-store': { type: 'boolean' },
} as const satisfies Record<string, OptionDef>;

/** Options up to "--" or the first word that is not one; everything after is the command, as given. */
export function parseRunOptions(args: readonly string[], command = 'run'): RunOptions {
  const o = parseCommandLine({ command, options: RUN_OPTIONS, operands: 'command' }, args);
  const failOn = o.values.get('fail-on');
  if (failOn !== undefined && failOn !== 'never' && !isImportance(failOn)) {
    throw new UsageError(`${command}: --fail-on "${failOn}" is not a level; use never, low, medium, high or critical`);
  }
  const sensor = o.values.get('sensor');
  if (sensor !== undefined && !(SENSOR_CHOICES as readonly string[]).includes(sensor)) throw new UsageError(`${command}: --sensor "${sensor}" is not a sensor; use auto, ptrace or ebpf`);
  if (o.operands.length === 0 && !o.help) throw new UsageError(`${command}: no command given; usage: tripline ${command} [options] -- COMMAND [ARGS...]`);
  return {
    command: o.operands, config: o.values.get('config'), jsonl: o.values.get('jsonl'), jsonlFinalOnly: o.flags.has('jsonl-final-only') ? true : undefined, failOn, environment: o.values.get('environment'),
    quiet: o.flags.has('quiet'), help: o.help, sensor, outputs: o.lists.get('output') ?? [],
    store: o.values.get('store'), noStore: o.flags.has('no-store'),
  };
}

/** The store settings a session opens its store with, from the configuration. */
export function storeSettings(store: StoreConfig): SessionStoreSettings {
  return { path: store.path.value, source: store.path.source, maxBytes: store.maxBytes.value, retentionMs: store.retentionMs.value };
}
