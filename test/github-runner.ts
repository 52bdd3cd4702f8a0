// Test helper: a simulated GitHub Actions runner for the Action's two phases. Creates the
// runner's files, reads the heredoc entries the action appends to them, and runs a phase the
// way the runner does (node action/main.js with INPUT_* variables, node action/post.js with
// the saved state as STATE_* variables).

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './e2e/run-tripline.ts';

export const ACTION_DIR = fileURLToPath(new URL('../action/', import.meta.url));

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

export async function runPhase(phase: 'main' | 'post', env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 120_000): Promise<PhaseResult> {
  const child = spawn(process.execPath, [join(ACTION_DIR, `${phase}.js`)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** The post step's environment: the saved state as STATE_<name>. */
export function postEnv(runner: Runner): NodeJS.ProcessEnv {
  const env = { ...runner.env };
  for (const [k, v] of Object.entries(heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8')))) env[`STATE_${k}`] = v;
  return env;
}
