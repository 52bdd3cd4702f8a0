// The Action's post step: stop the watch (if one runs), then send the detections to the job
// summary, annotations, SARIF, JUnit and step outputs with `tripline report`, and fail the job
// per the fail-on input.
// The watch's JSONL holds every revision of each detection; `tripline report` folds them by id
// (the last wins, one per detection in every output), so nothing here reads the file itself.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { main } from '../cli/main.ts';
import { EXIT } from '../cli/exit-codes.ts';
import { input, printUntrusted, type Env } from './runner-files.ts';
import { isOurWatch } from './watch-process.ts';

const STOP_TIMEOUT_MS = 30_000;

/** 'stopped', 'gone' (it had ended before the post step: someone or something stopped it), or 'stuck'. */
async function stopWatch(pid: number, sudo: boolean): Promise<'stopped' | 'gone' | 'stuck'> {
  if (!isOurWatch(pid)) return 'gone';
  if (sudo) spawnSync('sudo', ['-n', 'kill', '-INT', String(pid)], { stdio: 'ignore' });
  else {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return 'gone';
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isOurWatch(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return isOurWatch(pid) ? 'stuck' : 'stopped';
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
    const outcome = Number.isInteger(pid) && pid > 0 ? await stopWatch(pid, env.STATE_sudo === '1') : 'gone';
    // Job code with passwordless sudo can stop the watch: never let that pass silently.
    if (outcome === 'gone') console.log('::warning title=Tripline::tripline watch had already stopped before the post step: part of the job was not watched (see the watch log)');
    if (outcome === 'stuck') console.log('::warning title=Tripline::tripline watch did not stop in time; reporting what it wrote so far');
    if (!existsSync(jsonl)) console.log('::warning title=Tripline::the watch left no detections file; it may have been removed');
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
