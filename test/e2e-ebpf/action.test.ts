// End to end: the GitHub Action in a simulated runner, watch mode (root and bpftrace), from a
// copy of the Action without node_modules/ or dist/ (the committed bundle only): the pre step
// starts tripline watch before the job's first step, main finds it running, two steps run
// sysctl, post stops the watch and reports it, naming the step of each detection.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyAction, heredocEntries, phaseEnv, runPhase, runStep, simulatedRunner } from '../github-runner.ts';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

/**
 * A step that runs sysctl -a, then goes on (as a step's shell does while its later commands run)
 * until the watch has noticed it: the watch reads a step's environment when the first record of
 * its processes reaches it, and a step whose processes had all ended by then is not named
 * (docs/detection-event.md).
 */
const STEP = 'sysctl -a > /dev/null & p=$!; echo "sysctl pid $p"; wait $p; i=0; until grep -q "pid $p " "$WATCH_LOG" || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done';

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
    const early = await runStep(runner, STEP, { GITHUB_ACTION: '__actions_checkout', WATCH_LOG: state.log ?? '' });
    assert.equal(early.code, 0, early.stderr);
    const main = await runPhase('main', phaseEnv(runner), runner.workspace, undefined, action);
    assert.equal(main.code, 0, main.stdout + main.stderr);
    assert.match(main.stdout, /watching every process of this job since the pre step/);
    assert.equal(heredocEntries(readFileSync(runner.file('GITHUB_STATE'), 'utf8')).pid, String(pid), 'main did not start a second watch');
    const step = await runStep(runner, STEP, { GITHUB_ACTION: 'fingerprint', WATCH_LOG: state.log ?? '' });
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
    // Per-step attribution: each detection names the step whose processes ran sysctl, read from
    // their environments; the Action's own step (tripline watch's environment) is never named.
    // The watch writes every revision: one detection per id, its last revision.
    const detections = parseJsonl(readFileSync(state.jsonl ?? '', 'utf8'));
    // The watch sees the whole host: other tests' sysctl may run meanwhile. These are the steps' own.
    const ours = [early, step].map((r) => Number(/sysctl pid (\d+)/.exec(r.stdout)?.[1]));
    const steps = detections.filter((d) => ours.includes(d.subject.process.pid)).map((d) => d.environment.ci?.step?.id).sort();
    assert.deepEqual(steps, ['__actions_checkout', 'fingerprint'], JSON.stringify(detections.map((d) => d.environment.ci)));
    assert.match(summary, /\| step `fingerprint`: `sysctl -a` pid /);
    assert.match(summary, /\| step `__actions_checkout`: `sysctl -a` pid /);
    assert.match(post.stdout, /^::notice title=Tripline%3A os_network_fingerprint \(low\)::step fingerprint: sysctl -a /m);
    const sarif = JSON.parse(readFileSync(`${runner.workspace}/tripline.sarif`, 'utf8')) as { runs: { results: { properties: { environment: { ci: { step?: { id: string } } } } }[] }[] };
    const sarifSteps = sarif.runs[0]?.results.map((r) => r.properties.environment.ci.step?.id).filter((id) => id !== undefined).sort();
    assert.deepEqual(sarifSteps, ['__actions_checkout', 'fingerprint']);
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // stopped by post, as it should be
    }
  }
}));
