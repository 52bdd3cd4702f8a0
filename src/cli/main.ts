// The tripline command line: dispatches to a command, and is the one place errors become
// messages and exit codes.

import { ConfigError } from '../config/tripline-config.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { visible } from '../model/visible.ts';
import { SensorUnavailableError } from '../sensors/sensor-errors.ts';
import { configCommand } from './config-command.ts';
import { demoCommand } from './demo-command.ts';
import { EXIT } from './exit-codes.ts';
import { triplineVersion } from './tripline-version.ts';
import { MAIN_HELP } from './help-text.ts';
import { recipesCommand, type RecipesIo } from './recipes-command.ts';
import { reportCommand } from './report-command.ts';
import { runCommand } from './run-command.ts';
import { watchCommand } from './watch-command.ts';
import { UsageError } from './usage-error.ts';

export async function main(argv: readonly string[], io: RecipesIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'demo':
        return await demoCommand(io);
      case 'watch':
        return await watchCommand(rest, io);
      case 'recipes':
        return await recipesCommand(rest, io);
      case 'config':
        return configCommand(rest, io);
      case 'report':
        return await reportCommand(rest, io);
      case '--version':
      case '-V':
        io.stderr.write(`tripline ${triplineVersion()}\n`);
        return EXIT.ok;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.stderr.write(`${MAIN_HELP}\n`);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}" (try tripline --help)`);
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
