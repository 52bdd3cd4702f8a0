// End to end: the GitHub Action in a simulated runner, watch mode (root and bpftrace): main
// starts tripline watch for the rest of the job, a later step runs sysctl -a, post stops the
// watch and reports it.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { heredocEntries, postEnv, runPhase, simulatedRunner } from '../github-runner.ts';
import { withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

void test('the Action in watch mode: the whole job is watched, post stops the watch and reports', { skip: reason ?? false, timeout: 180_000 }, () => withTempDir(async (dir) => {
  const runner = simulatedRunner(dir, { mode: 'watch', 'fail-on': 'never', sarif: 'tripline.sarif' });
  const main = await runPhase('main', runner.env, runner.workspace);
  assert.equal(main.code, 0, main.stdout + main.stderr);
  const state = heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8'));
  assert.equal(state.mode, 'watch');
  const pid = Number(state.pid);
  try {
    assert.ok(existsSync(`/proc/${String(pid)}`), 'tripline watch runs in the background');
    const sysctl = spawnSync('sysctl', ['-a'], { stdio: 'ignore' });
    assert.equal(sysctl.status, 0);
    await new Promise((r) => setTimeout(r, 700));
    const post = await runPhase('post', postEnv(runner), runner.workspace);
    assert.equal(post.code, 0, post.stdout + post.stderr);
    // Ended: gone, or a zombie (empty cmdline) until whoever adopted it reaps it.
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
    } catch {
      // gone
    }
    const ended = cmdline === '';
    assert.ok(ended, 'post stopped the watch');
    assert.match(post.stdout, /::group::Tripline watch log\n::stop-commands::[0-9a-f]+\n/);
    const summary = readFileSync(runner.file('GITHUB_STEP_SUMMARY'), 'utf8');
    assert.match(summary, /`sysctl -a`/, summary);
    assert.ok(Number(heredocEntries(readFileSync(runner.file('GITHUB_OUTPUT'), 'utf8')).detections) >= 1);
    assert.ok(existsSync(`${runner.workspace}/tripline.sarif`));
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // stopped by post, as it should be
    }
  }
}));
