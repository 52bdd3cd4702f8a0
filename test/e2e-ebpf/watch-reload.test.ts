// End to end: a SIGHUP reload of a large recipe (24,000 keys) does not stop `watch` from
// processing events: a sysctl -a run right after the SIGHUP is reported while the reload is
// still reading the files (in a worker thread), before "reloaded". Needs root and bpftrace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recipeWithExceptions } from '../../bench/recipe-loading.ts';
import { withTempDir } from '../e2e/run-tripline.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

void test('watch goes on reporting while a SIGHUP reload reads a 24,000-key recipe', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  mkdirSync(join(dir, 'recipes'));
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, 'recipes:\n  directories: [recipes]\n');
  const watch = startWatch(['--config', config]);
  let pid: number | undefined;
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    writeFileSync(join(dir, 'recipes', 'big.yaml'), recipeWithExceptions(24_000));
    watch.child.kill('SIGHUP');
    pid = spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid;
    await watch.waitFor(/tripline: reloaded: 2 recipe\(s\)/, 60_000);
    await watch.waitFor(new RegExp(`pid ${String(pid)} sysctl -a read`), 10_000);
  } finally {
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  const stderr = watch.stderr();
  const notice = stderr.indexOf(`pid ${String(pid)} sysctl -a read`);
  const reloaded = stderr.indexOf('tripline: reloaded:');
  assert.ok(notice >= 0 && notice < reloaded, `the detection was reported while the reload was under way, not after it:\n${stderr}`);
}));
