// Parsing `tripline run` arguments: options up to "--" or the first non-option word, then the command.

import { isImportance } from '../model/importance.ts';
import { SENSOR_CHOICES } from '../config/tripline-config.ts';
import { UsageError } from './usage-error.ts';

/** The command line of `run`; options not given are undefined (the configuration decides). */
export interface RunOptions {
  readonly command: readonly string[];
  readonly config: string | undefined;
  readonly jsonl: string | undefined;
  readonly failOn: string | undefined;
  readonly environment: string | undefined;
  readonly quiet: boolean;
  readonly help: boolean;
  readonly sensor: string | undefined;
  /** `--output KIND[=TARGET]`, in order (repeatable). */
  readonly outputs: readonly string[];
}

const VALUE_OPTIONS = new Set(['--config', '--jsonl', '--fail-on', '--environment', '--sensor', '--output']);

export function parseRunOptions(args: readonly string[]): RunOptions {
  const values = new Map<string, string>();
  const outputs: string[] = [];
  let quiet = false;
  let help = false;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg === '--quiet' || arg === '-q') {
      quiet = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUE_OPTIONS.has(name)) throw new UsageError(`run: unknown option ${arg} (see tripline run --help)`);
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      value = args[i + 1];
      i++;
    }
    if (value === undefined || value === '') throw new UsageError(`run: ${name} needs a value`);
    if (name === '--output') {
      outputs.push(value);
      continue;
    }
    if (values.has(name)) throw new UsageError(`run: ${name} given twice`);
    values.set(name, value);
  }
  const command = args.slice(i);
  const failOn = values.get('--fail-on');
  if (failOn !== undefined && failOn !== 'never' && !isImportance(failOn)) {
    throw new UsageError(`run: --fail-on "${failOn}" is not a level; use never, low, medium, high or critical`);
  }
  const sensor = values.get('--sensor');
  if (sensor !== undefined && !(SENSOR_CHOICES as readonly string[]).includes(sensor)) throw new UsageError(`run: --sensor "${sensor}" is not a sensor; use auto, ptrace or ebpf`);
  if (command.length === 0 && !help) throw new UsageError('run: no command given; usage: tripline run [options] -- COMMAND [ARGS...]');
  return { command, config: values.get('--config'), jsonl: values.get('--jsonl'), failOn, environment: values.get('--environment'), quiet, help, sensor, outputs };
}
