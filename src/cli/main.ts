// The tripline command line: dispatches to a command, and is the one place errors become
// messages and exit codes. Commands are imported when used: `--help` and `--version` load
// nothing else, and `run` does not load the report or recipe tooling.

import { ConfigError } from '../config/config-error.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { visible } from '../model/visible.ts';
import { SensorUnavailableError } from '../sensors/sensor-errors.ts';
import { nearest } from './command-line.ts';
import type { CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { MAIN_HELP } from './help-text.ts';
import { triplineVersion } from './tripline-version.ts';
import { UsageError } from './usage-error.ts';

export type MainIo = CommandIo;

type Command = (args: readonly string[], io: MainIo) => Promise<number> | number;

/** Every command, loaded on first use. */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  run: async () => (await import('./run-command.ts')).runCommand,
  watch: async () => (await import('./watch-command.ts')).watchCommand,
  demo: async () => (await import('./demo-command.ts')).demoCommand,
  recipes: async () => (await import('./recipes-command.ts')).recipesCommand,
  config: async () => (await import('./config-command.ts')).configCommand,
  report: async () => (await import('./report-command.ts')).reportCommand,
  detections: async () => (await import('./detections-command.ts')).detectionsCommand,
  serve: async () => (await import('./serve-command.ts')).serveCommand,
  completion: async () => (await import('./completion-command.ts')).completionCommand,
};

/** The command names, for completion and suggestions. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case '--version':
      case '-V':
      case '-v':
      case 'version':
        io.stdout.write(`tripline ${triplineVersion()}\n`);
        return EXIT.ok;
      case undefined:
        // No command is a usage error: the help goes where errors go.
        io.stderr.write(`${MAIN_HELP}\n`);
        return EXIT.usage;
      case '--help':
      case '-h':
        io.stdout.write(`${MAIN_HELP}\n`);
        return EXIT.ok;
      case 'help': {
        // `tripline help run` is `tripline run --help`.
        const [topic, ...extra] = rest;
        if (topic === undefined) {
          io.stdout.write(`${MAIN_HELP}\n`);
          return EXIT.ok;
        }
        if (extra.length > 0 && COMMANDS[topic] === undefined) throw new UsageError(`help: unknown command "${topic}"`);
        return await main([topic, ...extra, '--help'], io);
      }
      default: {
        const load = COMMANDS[command];
        if (load === undefined) {
          const near = command.startsWith('-') ? undefined : nearest(command, COMMAND_NAMES);
          throw new UsageError(`unknown ${command.startsWith('-') ? 'option' : 'command'} "${command}"${near === undefined ? '' : ` (did you mean ${near}?)`}; see tripline --help`);
        }
        return await (await load())(rest, io);
      }
    }
  } catch (error) {
    // Messages quote argv, file names and file content: shown with control characters escaped.
    if (error instanceof UsageError) {
      io.stderr.write(`tripline: ${visible(error.message)}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      for (const d of error.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
      io.stderr.write(`tripline: ${visible(error.message)}\n`);
      return error.fromFlag ? EXIT.usage : EXIT.config;
    }
    if (error instanceof SensorUnavailableError) {
      io.stderr.write(`tripline: ${escapedLines(error.message)}\n  ${visible(error.hint)}\n`);
      return EXIT.sensor;
    }
    io.stderr.write(`tripline: internal error: ${escapedLines(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    return EXIT.internal;
  }
}

/** A text of several lines (a tool's stderr, a stack): each line escaped, continuation lines indented. */
function escapedLines(text: string): string {
  return text.split('\n').map(visible).join('\n  ');
}
