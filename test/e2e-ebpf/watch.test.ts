// End to end: `tripline watch` (eBPF, root) catches `sysctl -a` run by another process, flushes
// it on SIGINT, keeps its own reads of /proc out, and exits cleanly.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, EXPECTED_SENSOR, sensorChildPid, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable();

void test('watch catches sysctl -a started from another shell, and stops cleanly on SIGINT', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const w = startWatch(['--jsonl', jsonl, '--environment', 'production']);
  const watch = w.child;
  const exited = w.exited;
  await w.waitFor(/tripline: watching/, ATTACH_MS);
  const sysctl = spawnSync('sysctl', ['-a'], { stdio: 'ignore' });
  assert.equal(sysctl.status, 0);
  // Its live notice: the detection is made (the stop drains whatever came after).
  await w.waitFor(new RegExp(`pid ${String(sysctl.pid)} sysctl`), 60_000);
  watch.kill('SIGINT');
  assert.equal(await exited, 0, w.stderr());
  assert.ok(existsSync(jsonl));
  const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
  const mine = detections.filter((d) => d.subject.process.pid === sysctl.pid);
  assert.equal(mine.length, 1, w.stderr());
  const d = mine[0];
  assert.ok(d);
  assert.equal(d.subject.process.comm, 'sysctl');
  assert.equal(d.subject.scope, 'process');
  assert.equal(d.environment.kind, 'production');
  assert.equal(d.sensor.name, EXPECTED_SENSOR);
  assert.ok(d.evidence.directoryCount >= 3);
  assert.ok(d.subject.ancestry.length >= 1, 'the ancestry of a process started elsewhere comes from /proc');
  assert.ok(!detections.some((x) => x.subject.process.pid === watch.pid), 'watch never reports its own reads');
  assert.match(w.stderr(), /tripline: stopped; \d+ detection/);
}));

void test('watch restarts a bpftrace that died, and reports the gap', { skip: reason ?? false, timeout: 360_000 }, () => withTempDir(async () => {
  const w = startWatch(['--quiet']);
  const watch = w.child;
  const exited = w.exited;
  const waitFor = (text: string, ms: number): Promise<void> => w.waitFor(new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), ms);
  await waitFor('tripline: watching every process', ATTACH_MS);
  const bpftrace = sensorChildPid(watch.pid ?? 0);
  assert.match(bpftrace, /^\d+$/, 'the sensor runs as a child of watch');
  process.kill(Number(bpftrace), 'SIGKILL');
  await waitFor('restarting in 1 s', 60_000);
  await waitFor('tripline: watching again; the gap ran from', ATTACH_MS);
  watch.kill('SIGTERM');
  assert.equal(await exited, 0, w.stderr());
  assert.match(w.stderr(), new RegExp(`${EXPECTED_SENSOR} restarted 1 time`));
}));

void test('SIGHUP reloads: a broken set is refused and logged, a valid one (a new exception) takes effect', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, 'recipes:\n  directories: [recipes]\n');
  mkdirSync(join(dir, 'recipes'));
  const w = startWatch(['--quiet', '--config', config, '--jsonl', jsonl]);
  const watch = w.child;
  const exited = w.exited;
  const waitFor = (pattern: RegExp, ms: number): Promise<void> => w.waitFor(pattern, ms);
  let exceptedPid: number | undefined;
  let reportedPid: number | undefined;
  try {
    await waitFor(/tripline: watching every process/, ATTACH_MS);
    // A broken recipe: the reload is refused, the running set stays, the diagnostic is logged.
    writeFileSync(join(dir, 'recipes', 'broken.yaml'), 'id: broken_one\nnmae: x\n');
    watch.kill('SIGHUP');
    await waitFor(/reload failed: a recipe file has errors; keeping the 1 recipe\(s\) running \(os_network_fingerprint\)/, 60_000);
    // Said with the failure (one write); waited for all the same, as a reader of a pipe must.
    await waitFor(/broken\.yaml:2:1: error\[unknown-key\]: unknown key "nmae" in the document\n\s+hint: did you mean "name"\?/, 10_000);
    // Fixed, plus an exception for sysctl -a: reloaded, and sysctl -a is no longer reported.
    rmSync(join(dir, 'recipes', 'broken.yaml'));
    writeFileSync(config, 'recipes:\n  directories: [recipes]\nexceptions:\n  - name: audit\n    reason: expected in this test\n    exe: /usr/sbin/sysctl\n    argv: "sysctl -a"\n');
    watch.kill('SIGHUP');
    await waitFor(/tripline: reloaded: 1 recipe\(s\) \(os_network_fingerprint\), \d+ exception\(s\)/, 60_000);
    exceptedPid = spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid;
    reportedPid = spawnSync('sysctl', ['net'], { stdio: 'ignore' }).pid;
    await waitFor(new RegExp(`pid ${String(reportedPid)} sysctl`), 60_000);
  } finally {
    // Whatever failed above, the daemon must not outlive the test.
    watch.kill('SIGINT');
  }
  assert.equal(await exited, 0, w.stderr());
  const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
  assert.equal(detections.filter((d) => d.subject.process.pid === exceptedPid).length, 0, w.stderr());
  assert.equal(detections.filter((d) => d.subject.process.pid === reportedPid).length, 1, w.stderr());
  assert.match(w.stderr(), /exception "os_network_fingerprint: audit" applied to \d+ access/);
}));
