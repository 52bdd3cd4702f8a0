// End to end: the GitHub Action in a simulated runner, watch mode (root and bpftrace), from a
// copy of the Action without node_modules/ or dist/ (the committed bundle only): the pre step
// starts tripline watch before the job's first step, main finds it running, later steps run
// sysctl, post stops the watch and reports it.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyAction, heredocEntries, phaseEnv, runPhase, runStep, simulatedRunner } from '../github-runner.ts';
import { withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

void test('the Action in watch mode, without node_modules: the pre step watches the whole job, post stops the watch and reports', { skip: reason ?? false, timeout: 180_000 }, () => withTempDir(async (dir) => {
  const action = copyAction(join(dir, 'action-checkout'));
  assert.ok(!existsSync(join(action, 'node_modules')) && !existsSync(join(action, 'dist')));
  mkdirSync(join(dir, 'runner'));
  const runner = simulatedRunner(join(dir, 'runner'), { mode: 'watch', 'fail-on': 'never', sarif: 'tripline.sarif' });
  const pre = await runPhase('pre', runner.env, runner.workspace, undefined, action);
  assert.equal(pre.code, 0, pre.stdout + pre.stderr);
  // Set-up time: from node's start (loading the bundle) to the sensor watching.
  const ready = /ready (\d+\.\d) s after the step started/.exec(pre.stdout);
  assert.ok(ready?.[1] !== undefined, pre.stdout);
  console.log(`# the Action's set-up (pre step): ${ready[1]} s`);
  const state = heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8'));
  assert.equal(state.mode, 'watch');
  const pid = Number(state.pid);
  try {
    assert.ok(existsSync(`/proc/${String(pid)}`), 'tripline watch runs in the background');
    // The job's steps before the Action's own (a checkout) are watched already.
    const early = await runStep(runner, 'sysctl -a > /dev/null', { GITHUB_ACTION: '__actions_checkout' });
    assert.equal(early.code, 0, early.stderr);
    const main = await runPhase('main', phaseEnv(runner), runner.workspace, undefined, action);
    assert.equal(main.code, 0, main.stdout + main.stderr);
    assert.match(main.stdout, /watching every process of this job since the pre step/);
    assert.equal(heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8')).pid, String(pid), 'main did not start a second watch');
    const step = await runStep(runner, 'sysctl -a > /dev/null', { GITHUB_ACTION: 'fingerprint' });
    assert.equal(step.code, 0, step.stderr);
    const post = await runPhase('post', phaseEnv(runner), runner.workspace, undefined, action);
    assert.equal(post.code, 0, post.stdout + post.stderr);
    // Ended: gone, or a zombie (empty cmdline) until whoever adopted it reaps it.
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
    } catch {
      // gone
    }
    assert.equal(cmdline, '', 'post stopped the watch');
    assert.match(post.stdout, /::group::Tripline watch log\n::stop-commands::[0-9a-f]+\n/);
    const summary = readFileSync(runner.file('GITHUB_STEP_SUMMARY'), 'utf8');
    assert.match(summary, /`sysctl -a`/, summary);
    assert.ok(Number(heredocEntries(readFileSync(runner.file('GITHUB_OUTPUT'), 'utf8')).detections) >= 2, summary);
    assert.ok(existsSync(`${runner.workspace}/tripline.sarif`));
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // stopped by post, as it should be
    }
  }
}));
