// End to end under load: 100 sibling scripts, 10 at a time, each reading one setting in each of
// three areas, with a busy loop on every core beside them. Every script is its own detection
// and every read is in the evidence, under the ptrace sensor (and, through
// test/e2e-ebpf/load.test.ts, the eBPF sensor): a busy machine may slow Tripline down, never
// make it lose or merge evidence silently.

import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCpuHog } from './cpu-hog.ts';
import { describeRun, E2E_SENSOR, NET, runTripline, THREE_DIRS, THREE_FILES, withTempDir } from './run-tripline.ts';

void test(`100 sibling scripts x 3 areas beside a CPU hog: 100 detections, 300 reads (${E2E_SENSOR})`, { timeout: 300_000 }, () => withTempDir(async (dir) => {
  const script = join(dir, 'c.sh');
  writeFileSync(script, `#!/bin/sh\n${THREE_FILES.map((f) => `cat ${NET}/${f} >/dev/null`).join('\n')}\n`);
  chmodSync(script, 0o755);
  const stopHog = startCpuHog();
  let r;
  try {
    r = await runTripline(['sh', '-c', `seq 100 | xargs -P 10 -I{} ${script} c{}`], { dir, options: ['--quiet'], timeoutMs: 100_000 });
  } finally {
    stopHog();
  }
  assert.equal(r.exitCode, 0, describeRun(r));
  // ptrace shows the argv as exec'd ([script, tag]); eBPF the kernel's, with the interpreter first.
  const scripts = r.detections.filter((d) => d.subject.process.argv.includes(script));
  assert.equal(r.detections.length, 100, `${describeRun(r)}\nsubjects: ${r.detections.map((d) => d.subject.process.argv.join(' ')).join('; ')}`);
  assert.equal(scripts.length, 100, 'each detection is one script, none is their xargs');
  assert.equal(new Set(scripts.map((d) => d.subject.process.argv.at(-1))).size, 100, 'a hundred different scripts');
  for (const d of scripts) {
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS], d.subject.process.argv.join(' '));
    assert.equal(d.subject.members.length, 3, 'the three cats of that script, and no other');
    assert.ok(d.subject.members.every((m) => m.ppid === d.subject.process.pid));
    assert.equal(d.sensor.complete, true);
    assert.notEqual(d.subject.process.comm, '?');
  }
  const reads = scripts.flatMap((d) => d.evidence.files.filter((f) => f.actions.includes('read')).flatMap((f) => f.pids));
  assert.equal(reads.length, 300, 'every cat\'s read, each once');
}));
