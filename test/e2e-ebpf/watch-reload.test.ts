// End to end: a SIGHUP reload of a large recipe (24,000 keys) does not stop `watch` from
// processing events: a sysctl -a run right after the SIGHUP is reported while the reload is
// still reading the files (in a worker thread), before "reloaded". Needs root and bpftrace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  let reloadMs = 0;
  let baselineMs = 0;
  let noticeAt = 0;
  let reloadedAt = 0;
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    // How long a detection takes to show on this machine now (a loaded one may have a backlog).
    const before = Date.now();
    const baseline = spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid;
    await watch.waitFor(new RegExp(`pid ${String(baseline)} sysctl -a read`), 60_000);
    baselineMs = Date.now() - before;
    writeFileSync(join(dir, 'recipes', 'big.yaml'), recipeWithExceptions(24_000));
    const hup = Date.now();
    watch.child.kill('SIGHUP');
    pid = spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid;
    await Promise.all([
      watch.waitFor(/tripline: reloaded: 2 recipe\(s\)/, 60_000).then(() => { reloadedAt = Date.now(); }),
      watch.waitFor(new RegExp(`pid ${String(pid)} sysctl -a read`), 60_000).then(() => { noticeAt = Date.now(); }),
    ]);
    reloadMs = reloadedAt - hup;
  } finally {
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  const stderr = watch.stderr();
  const notice = stderr.indexOf(`pid ${String(pid)} sysctl -a read`);
  const reloaded = stderr.indexOf('tripline: reloaded:');
  assert.ok(notice >= 0 && reloaded >= 0, stderr);
  // Reported while the reload was under way; or, when the detection came after it, the reload
  // was quicker than a detection takes here anyway: it cannot have held the events back.
  assert.ok(notice < reloaded || reloadMs <= baselineMs + 1_000,
    `the detection waited for the reload (reload ${String(reloadMs)} ms, detection ${String(noticeAt - reloadedAt)} ms after it, a detection takes ${String(baselineMs)} ms here):\n${stderr}`);
}));

void test('a recipe on another tree, added by a SIGHUP reload, is watched by the running sensor at once', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  mkdirSync(join(dir, 'recipes'));
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, 'recipes:\n  directories: [recipes]\n');
  const watch = startWatch(['--config', config]);
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    writeFileSync(join(dir, 'recipes', 'account.yaml'), readFileSync(new URL('../fixtures/recipes/good-account-db-survey.yaml', import.meta.url), 'utf8'));
    watch.child.kill('SIGHUP');
    // "reloaded" is said once the sensor filters on /etc too.
    await watch.waitFor(/tripline: reloaded: 2 recipe\(s\)/, 60_000);
    const sh = spawnSync('sh', ['-c', 'cat /etc/passwd /etc/group /etc/shadow > /dev/null 2>&1; true'], { stdio: 'ignore' }).pid;
    // The reader is the cat that sh started (the recipe counts per process).
    await watch.waitFor(new RegExp(`account_db_survey \\(medium\\) — pid \\d+ cat /etc/passwd[^\\n]*\\n[\\s\\S]*ancestry +${String(sh)} sh -c`), 60_000);
  } finally {
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  assert.doesNotMatch(watch.stderr(), /not filtering on|watched from the next start/);
}));
