// Test helper: a simulated GitHub Actions runner for the Action's phases. Creates the runner's
// files, reads the heredoc entries the action appends to them, and runs a phase the way the
// runner does: node on the file action.yml names for it (runs.pre, runs.main, runs.post), with
// INPUT_* variables and the state saved so far as STATE_* variables. A later step runs with the
// variables and PATH entries earlier steps exported. `copyAction` makes a checkout of the Action
// as a user's job gets it, without node_modules/ or dist/.

import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { cleanEnv } from './e2e/run-tripline.ts';

/** The repository's root, where action.yml is. */
export const ACTION_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * What the Action needs at run time, copied from this repository into `dest`: action.yml, the
 * committed bundle and action/bin, and the data files the code reads beside it. No node_modules/,
 * no dist/, no TypeScript: a test of the copy shows the bundle carries everything else.
 */
export function copyAction(dest: string): string {
  for (const path of ['action.yml', 'action', 'package.json', 'recipes', 'schema', 'sensor', 'src/sensors/bpftrace/tripline.bt']) {
    cpSync(join(ACTION_ROOT, path), join(dest, path), { recursive: true });
  }
  return dest;
}

export interface Runner {
  readonly dir: string;
  readonly workspace: string;
  readonly env: NodeJS.ProcessEnv;
  file(name: 'GITHUB_STATE' | 'GITHUB_ENV' | 'GITHUB_PATH' | 'GITHUB_STEP_SUMMARY' | 'GITHUB_OUTPUT'): string;
}

export function simulatedRunner(dir: string, inputs: Readonly<Record<string, string>>): Runner {
  const files = { GITHUB_STATE: 'state', GITHUB_ENV: 'env', GITHUB_PATH: 'path', GITHUB_STEP_SUMMARY: 'summary.md', GITHUB_OUTPUT: 'output' } as const;
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(join(dir, 'runner-temp'), { recursive: true });
  const env: NodeJS.ProcessEnv = cleanEnv({
    GITHUB_ACTIONS: 'true', CI: 'true', GITHUB_WORKSPACE: workspace, RUNNER_TEMP: join(dir, 'runner-temp'),
    GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'build', GITHUB_WORKFLOW: 'ci',
    GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main', GITHUB_SHA: 'abc123',
  });
  for (const [k, f] of Object.entries(files)) {
    writeFileSync(join(dir, f), '');
    env[k] = join(dir, f);
  }
  // The runner passes inputs upper-cased, hyphens kept: INPUT_FAIL-ON.
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return { dir, workspace, env, file: (name) => join(dir, files[name]) };
}

/** `name<<DELIM` ... `DELIM` entries of a runner file. */
export function heredocEntries(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const end = lines.indexOf(m[2], i + 1);
    if (end < 0) throw new Error(`unterminated heredoc ${m[1]}`);
    out[m[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return out;
}

export interface PhaseResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The file action.yml's `runs.<phase>` names, absolute. */
export function phaseFile(phase: 'pre' | 'main' | 'post', root = ACTION_ROOT): string {
  const runs = (parse(readFileSync(join(root, 'action.yml'), 'utf8')) as { runs: Record<string, unknown> }).runs;
  const file = runs[phase];
  if (typeof file !== 'string') throw new Error(`action.yml has no runs.${phase}`);
  return join(root, file);
}

export async function runPhase(phase: 'pre' | 'main' | 'post', env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 120_000, root = ACTION_ROOT): Promise<PhaseResult> {
  return runProcess(process.execPath, [phaseFile(phase, root)], env, cwd, timeoutMs);
}

async function runProcess(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<PhaseResult> {
  const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('close', (c: number | null) => { resolve(c); }));
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A later `run:` step: `sh -c SCRIPT` with the variables earlier steps exported (GITHUB_ENV),
 * their PATH entries first (GITHUB_PATH), and the step's own variables (`stepEnv`, e.g.
 * GITHUB_ACTION, which the runner sets to each step's id).
 */
export async function runStep(runner: Runner, script: string, stepEnv: Readonly<Record<string, string>> = {}, timeoutMs = 120_000): Promise<PhaseResult> {
  const paths = readFileSync(runner.file('GITHUB_PATH'), 'utf8').split('\n').filter((l) => l !== '').reverse();
  const exported = heredocEntries(readFileSync(runner.file('GITHUB_ENV'), 'utf8'));
  const env: NodeJS.ProcessEnv = { ...runner.env, ...exported, ...stepEnv, PATH: [...paths, runner.env.PATH ?? ''].join(':') };
  return runProcess('sh', ['-c', script], env, runner.workspace, timeoutMs);
}

/** A phase's environment: the runner's, plus the state saved by the phases before as STATE_<name>. */
export function phaseEnv(runner: Runner): NodeJS.ProcessEnv {
  const env = { ...runner.env };
  for (const [k, v] of Object.entries(heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8')))) env[`STATE_${k}`] = v;
  return env;
}

/** The post step's environment: the saved state as STATE_<name>. */
export function postEnv(runner: Runner): NodeJS.ProcessEnv {
  return phaseEnv(runner);
}
