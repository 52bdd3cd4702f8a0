// End to end: `tripline watch` (eBPF, root) attributes a process the kernel started outside
// any tree: a core_pattern pipe helper, forked by a kernel worker under kthreadd when a process
// crashes, which reads three areas of /proc/sys/net. The subject is the helper and its
// ancestry names the kernel (`run` cannot see it by design: it is not the command's).
// The host's core_pattern is changed for the test and always restored.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NET, parseJsonl, THREE_FILES, waitForFile, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const CORE_PATTERN = '/proc/sys/kernel/core_pattern';

function corePatternUnwritable(): string | undefined {
  try {
    writeFileSync(CORE_PATTERN, readFileSync(CORE_PATTERN, 'utf8'));
    return undefined;
  } catch (error) {
    return `${CORE_PATTERN} cannot be written here: ${(error as Error).message}`;
  }
}

const reason = ebpfUnavailable() ?? corePatternUnwritable();

void test('watch attributes a core_pattern pipe helper that reads /proc/sys/net to the kernel', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const marker = join(dir, 'helper.pid');
  const helper = join(dir, 'core-helper');
  writeFileSync(helper, `#!/bin/sh\necho $$ > ${marker}.tmp && mv ${marker}.tmp ${marker}\nexec /bin/cat ${THREE_FILES.map((f) => `${NET}/${f}`).join(' ')} > /dev/null\n`);
  chmodSync(helper, 0o755);
  const w = startWatch(['--jsonl', jsonl]);
  const original = readFileSync(CORE_PATTERN, 'utf8');
  let helperPid: number | undefined;
  try {
    await w.waitFor(/tripline: watching every process/, ATTACH_MS);
    writeFileSync(CORE_PATTERN, `|${helper} %p`);
    try {
      const crash = spawnSync('sh', ['-c', 'ulimit -c unlimited; kill -SEGV $$'], { stdio: 'ignore' });
      assert.equal(crash.signal, 'SIGSEGV');
      await waitForFile(marker, 30_000);
    } finally {
      writeFileSync(CORE_PATTERN, original);
    }
    helperPid = Number(readFileSync(marker, 'utf8').trim());
    await w.waitFor(new RegExp(`pid ${String(helperPid)} `), 60_000);
  } finally {
    w.child.kill('SIGINT');
  }
  assert.equal(readFileSync(CORE_PATTERN, 'utf8'), original);
  assert.equal(await w.exited, 0, w.stderr());
  const mine = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.pid === helperPid);
  assert.equal(mine.length, 1, w.stderr());
  const d = mine[0];
  assert.ok(d !== undefined);
  assert.equal(d.subject.process.comm, 'cat');
  assert.equal(d.evidence.directoryCount, 3);
  // Its ancestry is the kernel: kthreadd (pid 2) on top, kernel threads below it, no '?'.
  const top = d.subject.ancestry[d.subject.ancestry.length - 1];
  assert.equal(top?.pid, 2, JSON.stringify(d.subject.ancestry));
  assert.equal(top.comm, 'kthreadd');
  for (const a of d.subject.ancestry) assert.ok(a.comm === 'kthreadd' || a.comm === 'kernel thread', JSON.stringify(a));
  assert.match(JSON.stringify(d.guidance), /started by the kernel as a usermode helper/);
  // The helper's report names no unknown ancestor. (The watch sees the whole host: a test
  // running beside this one may well have detections of its own, with ancestors it never saw.)
  const report = w.stderr().split('\n● ').find((block) => block.includes(`who       pid ${String(helperPid)} `));
  assert.ok(report !== undefined, w.stderr());
  assert.doesNotMatch(report, /'\?'/);
}));
