// The GitHub runner's side of an action: inputs from INPUT_* variables, and the files it reads
// commands from (GITHUB_STATE, GITHUB_ENV, GITHUB_PATH), written with random heredoc delimiters
// so no value can forge another line.

import { runnerFileEntries, withoutCommands } from '../outputs/github-output.ts';
import { appendOutputFile } from '../outputs/output-file.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** An input as the runner passes it: INPUT_<NAME upper-cased, spaces as _>. */
export function input(env: Env, name: string, fallback = ''): string {
  const value = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function append(path: string | undefined, what: string, entries: Readonly<Record<string, string>>): void {
  if (path === undefined || path === '') throw new Error(`${what} is not set: this does not look like a GitHub Actions runner`);
  appendOutputFile(path, runnerFileEntries(entries));
}

/** State for the post step (it arrives there as STATE_<name>). */
export function saveState(env: Env, entries: Readonly<Record<string, string>>): void {
  append(env.GITHUB_STATE, 'GITHUB_STATE', entries);
}

/** Variables for the job's later steps. */
export function exportVariables(env: Env, entries: Readonly<Record<string, string>>): void {
  append(env.GITHUB_ENV, 'GITHUB_ENV', entries);
}

export function addPath(env: Env, dir: string): void {
  if (env.GITHUB_PATH === undefined || env.GITHUB_PATH === '') throw new Error('GITHUB_PATH is not set: this does not look like a GitHub Actions runner');
  appendOutputFile(env.GITHUB_PATH, `${dir}\n`);
}

/**
 * Prints untrusted text (a log with process names) into the job log with workflow commands
 * suspended, so a line like "::error::" inside it is shown, not obeyed.
 */
export function printUntrusted(write: (text: string) => void, title: string, text: string): void {
  write(`::group::${title}\n${withoutCommands(text)}::endgroup::\n`);
}
