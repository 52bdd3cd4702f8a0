// The Action's committed bundle (action/dist/) is what `npm run build:action` makes from the
// sources today, byte for byte: rebuilt into a temporary directory and compared. A change to
// src/ without a rebuild fails here (and in CI) instead of shipping old code to users' jobs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ACTION_ROOT } from '../github-runner.ts';
import { withTempDir } from './run-tripline.ts';

function build(outDir: string): void {
  const r = spawnSync(process.execPath, [join(ACTION_ROOT, 'scripts', 'build-action.js'), outDir], { cwd: ACTION_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function contents(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

void test('action/dist is the build of the current sources (run npm run build:action and commit it if this fails)', { timeout: 120_000 }, () => withTempDir((dir) => {
  build(join(dir, 'a'));
  const fresh = contents(join(dir, 'a'));
  const committed = contents(join(ACTION_ROOT, 'action', 'dist'));
  assert.deepEqual([...committed.keys()], [...fresh.keys()], 'the same files');
  for (const [name, bytes] of fresh) assert.ok(committed.get(name)?.equals(bytes), `action/dist/${name} differs from a fresh build`);
  // The build is deterministic: a second build gives the same bytes (else the check above means nothing).
  build(join(dir, 'b'));
  assert.deepEqual(contents(join(dir, 'b')), fresh);
  return Promise.resolve();
}));
