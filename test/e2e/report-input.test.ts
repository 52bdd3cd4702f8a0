// End to end: the Action's post step reports a JSONL file of any size (20 sysctl -a detections,
// over 1 MiB, once refused whole), and a detections file that went missing fails it by name.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { replayFixture } from '../replay-strace-fixture.ts';
import { heredocEntries, postEnv, runPhase, simulatedRunner } from '../github-runner.ts';
import { TEST_TIMEOUT, withTempDir } from './run-tripline.ts';

/** The run-mode Action up to its post step: main ran, the detections file is where it said. */
async function runModeJsonl(dir: string): Promise<{ runner: ReturnType<typeof simulatedRunner>; jsonl: string }> {
  const runner = simulatedRunner(dir, { mode: 'run', 'fail-on': 'never' });
  const main = await runPhase('main', runner.env, runner.workspace);
  assert.equal(main.code, 0, main.stdout + main.stderr);
  const jsonl = heredocEntries(readFileSync(runner.file('GITHUB_ENV'), 'utf8')).TRIPLINE_JSONL;
  assert.ok(jsonl !== undefined);
  return { runner, jsonl };
}

void test('the post step with a JSONL over 1 MiB writes its summary, annotations and outputs', { timeout: TEST_TIMEOUT * 2 }, () => withTempDir(async (dir) => {
  const { runner, jsonl } = await runModeJsonl(dir);
  const [d] = replayFixture('sysctl-a.strace').closed;
  assert.ok(d);
  // Twenty detections (each its own id: revisions of one id would be folded into one).
  writeFileSync(jsonl, Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ ...d, id: `${d.id}-${String(i)}` })}\n`).join(''));
  assert.ok(readFileSync(jsonl).length > 1024 * 1024);
  const post = await runPhase('post', postEnv(runner), runner.workspace);
  assert.equal(post.code, 0, post.stdout + post.stderr);
  assert.match(readFileSync(runner.file('GITHUB_STEP_SUMMARY'), 'utf8'), /^20 detection\(s\)\./m);
  assert.equal(heredocEntries(readFileSync(runner.file('GITHUB_OUTPUT'), 'utf8')).detections, '20');
  assert.equal(post.stdout.split('\n').filter((l) => l.startsWith('::notice title=Tripline%3A os_network_fingerprint')).length, 20, post.stdout);
}));

void test('a detections file removed before the post step fails it, by name', { timeout: TEST_TIMEOUT * 2 }, () => withTempDir(async (dir) => {
  const { runner, jsonl } = await runModeJsonl(dir);
  rmSync(jsonl);
  const post = await runPhase('post', postEnv(runner), runner.workspace);
  assert.equal(post.code, 1, post.stdout + post.stderr);
  assert.ok(post.stderr.includes(`${jsonl}: no such file`), post.stderr);
}));
