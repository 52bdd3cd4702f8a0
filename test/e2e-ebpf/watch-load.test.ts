// End to end, `tripline watch` under load: 20,000 forks beside 10 scripts that each read three
// areas, with a busy loop on every core; and a sensor killed right after a canary was seen.
// Nothing already seen may be lost, every script is its own detection with its own name.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCpuHog } from '../e2e/cpu-hog.ts';
import { NET, parseJsonl, THREE_DIRS, THREE_FILES, withTempDir } from '../e2e/run-tripline.ts';
import { ATTACH_MS, sensorChildPid, startWatch } from './watch-process.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

function writeScript(dir: string): string {
  const script = join(dir, 'c.sh');
  writeFileSync(script, `#!/bin/sh\n${THREE_FILES.map((f) => `cat ${NET}/${f} >/dev/null`).join('\n')}\n`);
  chmodSync(script, 0o755);
  return script;
}

function run(command: string, args: readonly string[]): Promise<number | null> {
  const child = spawn(command, args, { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', (code) => { resolve(code); }));
}

void test('watch beside 20,000 forks and a CPU hog reports each of 10 scripts, named', { skip: reason ?? false, timeout: 420_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const script = writeScript(dir);
  const watch = startWatch(['--quiet', '--jsonl', jsonl, '--health-interval', '1']);
  let stopHog = (): void => undefined;
  try {
    // The load is for the watching, not for bpftrace's compile (which a busy loop per core can make last minutes).
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    stopHog = startCpuHog();
    // dash forks a subshell cheaply (python's fork copies a far larger process: minutes under load).
    const storm = run('/bin/sh', ['-c', 'i=0; while [ $i -lt 20000 ]; do ( : ); i=$((i+1)); done']);
    const scripts = run('/bin/sh', ['-c', `for i in $(seq 10); do ${script} tag$i & done; wait`]);
    assert.equal(await scripts, 0);
    assert.equal(await storm, 0);
    await watch.waitFor(/tripline: health: /, 10_000);
  } finally {
    stopHog();
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  const mine = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.argv.includes(script));
  assert.deepEqual(mine.map((d) => d.subject.process.argv.at(-1)).sort(), Array.from({ length: 10 }, (_, i) => `tag${String(i + 1)}`).sort(), watch.stderr());
  for (const d of mine) {
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assert.notEqual(d.subject.process.comm, '?');
    assert.notEqual(d.subject.process.exe, null);
  }
  assert.match(watch.stderr(), /tripline: health: \d+ line\(s\)\/s, \d+ event\(s\) lost/);
}));

void test('a sensor killed after a canary was seen loses nothing of it, and the gap starts before the kill', { skip: reason ?? false, timeout: 360_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const script = writeScript(dir);
  // Not --quiet for the notices: the live notice says the canary's lines were seen.
  const watch = startWatch(['--jsonl', jsonl]);
  let killedAt = 0;
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    assert.equal(await run(script, ['canary']), 0);
    await watch.waitFor(/os_network_fingerprint .*c\.sh canary/, 30_000);
    const sensorPid = sensorChildPid(watch.child.pid ?? 0);
    assert.match(sensorPid, /^\d+$/);
    killedAt = Date.now();
    process.kill(Number(sensorPid), 'SIGKILL');
    await watch.waitFor(/tripline: watching again; the gap ran from/, 60_000);
  } finally {
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  const canary = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.argv.includes('canary'));
  assert.equal(canary.length, 1, watch.stderr());
  assert.deepEqual(canary[0]?.evidence.directories, [...THREE_DIRS]);
  const gapStart = /nothing is watched from (\S+);/.exec(watch.stderr())?.[1];
  assert.ok(gapStart !== undefined, watch.stderr());
  assert.ok(Date.parse(gapStart) <= killedAt, `the gap starts at the last record the sensor delivered (${gapStart}), not when its death was noticed (${new Date(killedAt).toISOString()})`);
}));
