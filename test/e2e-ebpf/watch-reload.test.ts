// End to end: a SIGHUP reload of a large recipe (24,000 keys) does not stop `watch` from
// processing events: a sysctl -a run right after the SIGHUP is reported while the reload is
// still reading the files (in a worker thread), before "reloaded". Needs root and bpftrace.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { recipeWithExceptions } from '../../bench/recipe-loading.ts';
import { cleanEnv, TRIPLINE_BIN, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

void test('watch goes on reporting while a SIGHUP reload reads a 24,000-key recipe', { skip: reason ?? false, timeout: 90_000 }, () => withTempDir(async (dir) => {
  mkdirSync(join(dir, 'recipes'));
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, 'recipes:\n  directories: [recipes]\n');
  const watch = spawn(process.execPath, [TRIPLINE_BIN, 'watch', '--config', config], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  watch.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => watch.once('exit', (code) => { resolve(code); }));
  const waitFor = (wanted: RegExp, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (wanted.test(stderr)) resolve();
        else if (Date.now() > deadline) reject(new Error(`no ${String(wanted)} within ${String(ms)} ms: ${stderr}`));
        else setTimeout(check, 50);
      };
      check();
    });
  };
  let pid: number | undefined;
  try {
    await waitFor(/tripline: watching every process/, 30_000);
    writeFileSync(join(dir, 'recipes', 'big.yaml'), recipeWithExceptions(24_000));
    watch.kill('SIGHUP');
    pid = spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid;
    await waitFor(/tripline: reloaded: 2 recipe\(s\)/, 60_000);
    await waitFor(new RegExp(`pid ${String(pid)} sysctl -a read`), 10_000);
  } finally {
    watch.kill('SIGINT');
  }
  assert.equal(await exited, 0, stderr);
  const notice = stderr.indexOf(`pid ${String(pid)} sysctl -a read`);
  const reloaded = stderr.indexOf('tripline: reloaded:');
  assert.ok(notice >= 0 && notice < reloaded, `the detection was reported while the reload was under way, not after it:\n${stderr}`);
}));
