// The Action's post step: stop the watch (if one runs), then send the detections to the job
// summary, annotations, SARIF, JUnit and step outputs with `tripline report`, and fail the job
// per the fail-on input.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { main } from '../cli/main.ts';
import { EXIT } from '../cli/exit-codes.ts';
import { input, printUntrusted, type Env } from './runner-files.ts';

const STOP_TIMEOUT_MS = 30_000;

async function stopWatch(pid: number, sudo: boolean): Promise<boolean> {
  if (sudo) spawnSync('sudo', ['-n', 'kill', '-INT', String(pid)], { stdio: 'ignore' });
  else {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return true;
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (existsSync(`/proc/${String(pid)}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return !existsSync(`/proc/${String(pid)}`);
}

export async function postPhase(env: Env): Promise<number> {
  const mode = env.STATE_mode;
  const jsonl = env.STATE_jsonl;
  if (mode === undefined || jsonl === undefined) {
    console.log('Tripline: the main step did not start; nothing to report.');
    return 0;
  }
  if (mode === 'watch') {
    const pid = Number(env.STATE_pid);
    const stopped = Number.isInteger(pid) && pid > 0 ? await stopWatch(pid, env.STATE_sudo === '1') : false;
    if (!stopped) console.log('::warning title=Tripline::tripline watch did not stop in time; reporting what it wrote so far');
    const log = env.STATE_log;
    // The log holds process names and command lines: shown with workflow commands suspended.
    if (log !== undefined && existsSync(log)) printUntrusted((t) => process.stdout.write(t), 'Tripline watch log', readFileSync(log, 'utf8'));
  }
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const args = ['report', '--output', 'github'];
  const sarif = input(env, 'sarif', 'tripline.sarif');
  if (sarif !== '') args.push('--output', `sarif=${resolve(workspace, sarif)}`);
  const junit = input(env, 'junit');
  if (junit !== '') args.push('--output', `junit=${resolve(workspace, junit)}`);
  const config = input(env, 'config');
  if (config !== '') args.push('--config', resolve(workspace, config));
  args.push('--fail-on', input(env, 'fail-on', 'never'), jsonl);
  const code = await main(args, {
    stdout: process.stdout, stderr: process.stderr, cwd: workspace,
    env: { ...process.env, ...env, TRIPLINE_ENVIRONMENT: input(env, 'environment', 'ci') },
  });
  if (code === EXIT.policy) {
    console.log(`::error title=Tripline::detections at or above "${input(env, 'fail-on')}" (fail-on); see the job summary`);
    return 1;
  }
  return code === EXIT.ok ? 0 : 1;
}
