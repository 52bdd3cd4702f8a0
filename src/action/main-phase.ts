// The Action's main step: watch the rest of the job with the eBPF sensor when it can (root or
// passwordless sudo, bpftrace installed or installable), unless the pre step already does,
// else tell the user to wrap steps with `tripline run`, whose detections the post step collects.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeCommandData } from '../outputs/github-output.ts';
import { openOutputFile } from '../outputs/output-file.ts';
import { addPath, exportVariables, input, saveState, type Env } from './runner-files.ts';
import { isOurWatch } from './watch-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bundled command (npm run build:action): the Action runs without node_modules or dist/. */
const TRIPLINE = join(ROOT, 'action', 'dist', 'tripline.js');
/** Holds `tripline`, put on the job's PATH for the steps to wrap. */
const BIN = join(ROOT, 'action', 'bin');
const START_TIMEOUT_MS = 90_000;

/** How privileged commands are run: directly as root, through sudo -n, or not at all. */
function privilege(env: Env): string[] | undefined {
  if (process.getuid?.() === 0) return [];
  if (env.TRIPLINE_ACTION_NO_SUDO === '1') return undefined;
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return sudo.status === 0 ? ['sudo', '-n', '-E'] : undefined;
}

function hasBpftrace(): boolean {
  return spawnSync('sh', ['-c', 'command -v bpftrace'], { stdio: 'ignore' }).status === 0;
}

function run(prefix: readonly string[], command: readonly string[]): boolean {
  const [file = '', ...args] = [...prefix, ...command];
  return spawnSync(file, args, { stdio: 'inherit' }).status === 0;
}

async function waitForWatch(log: string, pid: number): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    if (text.includes('tripline: watching every process')) return true;
    if (!existsSync(`/proc/${String(pid)}`)) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** The directory of this job's files (logs, detections), made if needed. */
function jobDir(env: Env): string {
  const temp = env.RUNNER_TEMP ?? '/tmp';
  const dir = join(temp, `tripline-${env.GITHUB_RUN_ID ?? 'local'}-${env.GITHUB_JOB ?? 'job'}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Inputs are checked at once, not at the end of the job when nothing can be done about them: false (and an error printed) when one is wrong. */
export function checkInputs(env: Env): boolean {
  const checks: [string, string, readonly string[]][] = [
    ['mode', input(env, 'mode', 'auto'), ['auto', 'watch', 'run']],
    ['fail-on', input(env, 'fail-on', 'never'), ['never', 'low', 'medium', 'high', 'critical']],
    ['environment', input(env, 'environment', 'ci'), ['ci', 'staging', 'production', 'development', 'unknown']],
  ];
  for (const [name, value, allowed] of checks) {
    if (!allowed.includes(value)) {
      console.log(`::error title=Tripline::input ${name} must be one of ${allowed.join(', ')}, not "${escapeCommandData(value)}"`);
      return false;
    }
  }
  return true;
}

function configArgs(env: Env): string[] {
  const config = input(env, 'config');
  return config === '' ? [] : ['--config', resolve(env.GITHUB_WORKSPACE ?? process.cwd(), config)];
}

/**
 * Starts `tripline watch` in the background for the rest of the job and waits until it watches.
 * Returns the state the post step needs, or why it could not.
 */
export async function startWatch(env: Env): Promise<{ readonly state: Record<string, string> } | { readonly why: string }> {
  const prefix = privilege(env);
  if (prefix === undefined) return { why: 'not root and no passwordless sudo' };
  if (!hasBpftrace() && !(run(prefix, ['apt-get', 'update', '-qq']) && run(prefix, ['apt-get', 'install', '-y', '-qq', 'bpftrace']))) {
    return { why: 'bpftrace is not installed and apt-get could not install it' };
  }
  const dir = jobDir(env);
  const jsonl = join(dir, 'watch.jsonl');
  const log = join(dir, 'watch.log');
  const fd = openOutputFile(log, { append: true });
  // Made now, by the runner's user: the watch (root) then writes into a file the post step,
  // not root, can read (a file root creates is 0600).
  closeSync(openOutputFile(jsonl));
  const [file = '', ...args] = [...prefix, process.execPath, TRIPLINE, 'watch', '--quiet', '--jsonl', jsonl, ...configArgs(env)];
  // The watch writes only its JSONL: the post step makes the summary, annotations and other
  // outputs once (the main step's runner files are not the post step's, and a webhook must not get everything twice).
  // No detection store: the job's report is the record, and a runner (self-hosted too) is left
  // without a root-owned database the workflow never asked for.
  const watchEnv: NodeJS.ProcessEnv = { ...process.env, ...env, TRIPLINE_ENVIRONMENT: input(env, 'environment', 'ci'), NO_COLOR: '1', TRIPLINE_GITHUB: 'off', TRIPLINE_STORE: 'off' };
  for (const k of ['GITHUB_STEP_SUMMARY', 'GITHUB_OUTPUT', 'GITHUB_ENV', 'GITHUB_STATE', 'GITHUB_PATH', 'TRIPLINE_SARIF', 'TRIPLINE_JUNIT', 'TRIPLINE_WEBHOOK_URL', 'TRIPLINE_JSONL']) Reflect.deleteProperty(watchEnv, k);
  const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: watchEnv });
  closeSync(fd);
  child.unref();
  const pid = child.pid ?? 0;
  if (await waitForWatch(log, pid)) {
    return { state: { mode: 'watch', pid: String(pid), jsonl, log, sudo: prefix.length > 0 ? '1' : '0', dir } };
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  return { why: `tripline watch did not start (see ${log})` };
}

/** "ready 1.4 s after the step started": node's start, loading the bundle, the checks, the sensor's attach. */
export function setUpTime(): string {
  return `${(process.uptime()).toFixed(1)} s`;
}

export async function mainPhase(env: Env): Promise<number> {
  if (!checkInputs(env)) return 1;
  const mode = input(env, 'mode', 'auto');
  addPath(env, BIN);
  const config = input(env, 'config');
  let why = 'mode: run was asked for';
  if (mode !== 'run') {
    // The pre step started the watch when the Action runs from a repository (not from ./).
    const prePid = env.STATE_mode === 'watch' ? Number(env.STATE_pid) : Number.NaN;
    const preWhy = env.STATE_prewhy;
    if (Number.isInteger(prePid) && prePid > 0 && isOurWatch(prePid)) {
      console.log(`Tripline has been watching every process of this job since the pre step (eBPF); the report comes in the post step. Log: ${env.STATE_log ?? '?'}`);
      return 0;
    }
    if (Number.isInteger(prePid) && prePid > 0) console.log('::warning title=Tripline::the watch the pre step started has stopped: part of the job was not watched; starting it again');
    const started = preWhy !== undefined && preWhy !== '' ? { why: preWhy } : await startWatch(env);
    if ('state' in started) {
      saveState(env, started.state);
      console.log(`Tripline is watching every process of this job (eBPF, ready ${setUpTime()} after the step started); the report comes in the post step. Log: ${started.state.log ?? '?'}`);
      return 0;
    }
    why = started.why;
    if (mode === 'watch') {
      console.log(`::error title=Tripline::cannot watch this job: ${why}`);
      return 1;
    }
  }
  // Run mode: later steps wrap their commands; their detections are appended to one file, made
  // now (empty) so that the post step can tell "nothing found" from a file that went missing.
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const jsonl = join(jobDir(env), 'run.jsonl');
  closeSync(openOutputFile(jsonl, { append: true }));
  // The post step writes the summary and annotations once for all steps: the wrapped steps do not.
  exportVariables(env, {
    TRIPLINE_JSONL: jsonl, TRIPLINE_JSONL_APPEND: '1', TRIPLINE_GITHUB: 'off', TRIPLINE_ENVIRONMENT: input(env, 'environment', 'ci'), TRIPLINE_STORE: 'off',
    ...(config === '' ? {} : { TRIPLINE_CONFIG: resolve(workspace, config) }),
  });
  saveState(env, { mode: 'run', jsonl, dir: jobDir(env) });
  console.log(`::notice title=Tripline::Not watching the whole job (${why}). Wrap the steps to check with: tripline run -- COMMAND (tripline is on PATH); the post step reports what they found.`);
  return 0;
}
