// End to end: the GitHub Action in a simulated runner, run mode (no root needed), from a copy
// of the Action without node_modules/ or dist/ (the committed bundle only): main asks to wrap
// steps, puts `tripline` on PATH and exports where their detections go; two wrapped steps
// append; post writes the job summary, annotations, SARIF and step outputs, and fails the job
// per fail-on.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertValidSarif } from '../validate-sarif.ts';
import { copyAction, heredocEntries, postEnv, runPhase, runStep, simulatedRunner } from '../github-runner.ts';
import { TEST_TIMEOUT, withTempDir, NET } from './run-tripline.ts';

void test('the Action in run mode, without node_modules: wrapped steps append, post reports and fails the job on fail-on', { timeout: TEST_TIMEOUT * 4 }, () => withTempDir(async (dir) => {
  const action = copyAction(join(dir, 'action-checkout'));
  assert.ok(!existsSync(join(action, 'node_modules')) && !existsSync(join(action, 'dist')));
  mkdirSync(join(dir, 'runner'));
  const runner = simulatedRunner(join(dir, 'runner'), { mode: 'run', 'fail-on': 'low', sarif: 'tripline.sarif', environment: 'ci' });
  const main = await runPhase('main', runner.env, runner.workspace, undefined, action);
  assert.equal(main.code, 0, main.stdout + main.stderr);
  assert.match(main.stdout, /^::notice title=Tripline::Not watching the whole job \(mode: run was asked for\)/m);
  const exported = heredocEntries(readFileSync(runner.file('GITHUB_ENV'), 'utf8'));
  assert.equal(exported.TRIPLINE_JSONL_APPEND, '1');
  assert.equal(exported.TRIPLINE_GITHUB, 'off', 'wrapped steps leave the summary to the post step');
  assert.ok(exported.TRIPLINE_JSONL?.startsWith(join(dir, 'runner', 'runner-temp')), JSON.stringify(exported));
  assert.equal(readFileSync(runner.file('GITHUB_PATH'), 'utf8'), `${join(action, 'action', 'bin')}\n`);
  // Two later steps, each wrapped with the `tripline` main put on PATH: both detections end up in the one file.
  const cats = `for k in core/somaxconn ipv4/ip_forward unix/max_dgram_qlen; do cat ${NET}/$k > /dev/null; done`;
  for (const [id, script] of [['scan', `tripline run --quiet -- sh -c '${cats}'`], ['sysctl', 'tripline run --quiet -- sysctl net']] as const) {
    const step = await runStep(runner, script, { GITHUB_ACTION: id });
    assert.equal(step.code, 0, step.stdout + step.stderr);
  }
  const post = await runPhase('post', postEnv(runner), runner.workspace, undefined, action);
  assert.equal(post.code, 1, `fail-on low fails the job\n${post.stdout}\n${post.stderr}`);
  assert.match(post.stdout, /^::error title=Tripline::detections at or above "low" \(fail-on\)/m);
  assert.equal(post.stdout.split('\n').filter((l) => l.startsWith('::notice title=Tripline%3A os_network_fingerprint')).length, 2, post.stdout);
  const summary = readFileSync(runner.file('GITHUB_STEP_SUMMARY'), 'utf8');
  assert.match(summary, /2 detection\(s\)\./);
  assert.equal(summary.split('## Tripline').length - 1, 1, 'one summary, written by the post step');
  const outputs = heredocEntries(readFileSync(runner.file('GITHUB_OUTPUT'), 'utf8'));
  assert.equal(outputs.detections, '2');
  assert.equal(outputs['highest-importance'], 'low');
  assert.equal(outputs.sarif, join(runner.workspace, 'tripline.sarif'));
  assertValidSarif(join(runner.workspace, 'tripline.sarif'));
}));

void test('the Action with nothing found: post passes, the summary says so', { timeout: TEST_TIMEOUT * 2 }, () => withTempDir(async (dir) => {
  const runner = simulatedRunner(dir, { mode: 'run', 'fail-on': 'low' });
  assert.equal((await runPhase('main', runner.env, runner.workspace)).code, 0);
  const post = await runPhase('post', postEnv(runner), runner.workspace);
  assert.equal(post.code, 0, post.stdout + post.stderr);
  assert.match(readFileSync(runner.file('GITHUB_STEP_SUMMARY'), 'utf8'), /No detections\./);
  assert.equal(heredocEntries(readFileSync(runner.file('GITHUB_OUTPUT'), 'utf8')).detections, '0');
}));
