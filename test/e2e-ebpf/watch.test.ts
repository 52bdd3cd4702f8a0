// End to end: `tripline watch` (eBPF, root) catches `sysctl -a` run by another process, flushes
// it on SIGINT, keeps its own reads of /proc out, and exits cleanly.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cleanEnv, parseJsonl, TRIPLINE_BIN, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

void test('watch catches sysctl -a started from another shell, and stops cleanly on SIGINT', { skip: reason ?? false, timeout: 60_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const watch = spawn(process.execPath, [TRIPLINE_BIN, 'watch', '--jsonl', jsonl, '--environment', 'production'], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => watch.once('exit', (code) => { resolve(code); }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`watch did not start: ${stderr}`)); }, 30_000);
    watch.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes('tripline: watching')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const sysctl = spawnSync('sysctl', ['-a'], { stdio: 'ignore' });
  assert.equal(sysctl.status, 0);
  await new Promise((resolve) => setTimeout(resolve, 500));
  watch.kill('SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.ok(existsSync(jsonl));
  const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
  const mine = detections.filter((d) => d.subject.process.pid === sysctl.pid);
  assert.equal(mine.length, 1, stderr);
  const d = mine[0];
  assert.ok(d);
  assert.equal(d.subject.process.comm, 'sysctl');
  assert.equal(d.subject.scope, 'process');
  assert.equal(d.environment.kind, 'production');
  assert.equal(d.sensor.name, 'bpftrace');
  assert.ok(d.evidence.directoryCount >= 3);
  assert.ok(d.subject.ancestry.length >= 1, 'the ancestry of a process started elsewhere comes from /proc');
  assert.ok(!detections.some((x) => x.subject.process.pid === watch.pid), 'watch never reports its own reads');
  assert.match(stderr, /tripline: stopped; \d+ detection/);
}));

void test('watch restarts a bpftrace that died, and reports the gap', { skip: reason ?? false, timeout: 90_000 }, () => withTempDir(async () => {
  const watch = spawn(process.execPath, [TRIPLINE_BIN, 'watch', '--quiet'], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => watch.once('exit', (code) => { resolve(code); }));
  const waitFor = (text: string, ms: number) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no "${text}" within ${ms} ms: ${stderr}`)); }, ms);
    const check = (): void => {
      if (stderr.includes(text)) {
        clearTimeout(timer);
        resolve();
      } else {
        setTimeout(check, 50);
      }
    };
    check();
  });
  watch.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  await waitFor('tripline: watching every process', 30_000);
  const bpftrace = spawnSync('pgrep', ['-P', String(watch.pid), 'bpftrace'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
  assert.match(bpftrace, /^\d+$/, 'bpftrace runs as a child of watch');
  process.kill(Number(bpftrace), 'SIGKILL');
  await waitFor('restarting in 1 s', 10_000);
  await waitFor('tripline: watching again; the gap ran from', 40_000);
  watch.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /bpftrace restarted 1 time/);
}));
