// End to end: `tripline watch` (eBPF, root) streams the revisions of a growing detection. A
// shell script on the host reads three areas of /proc/sys/net itself (the detection opens),
// waits for a file the test creates, reads three more directories (the same process: it grows)
// and waits again. The JSONL file gets the open revision, then an updated one, while the script
// still runs; the close comes last (at SIGINT). A watch killed before the close leaves open
// revisions, which `tripline report` reports as their last revision, said to be not closed.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Detection } from '../../src/model/detection.ts';
import { cleanEnv, NET, parseJsonl, parseJsonlRevisions, runCli, withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch, type WatchProcess } from './watch-process.ts';

const reason = ebpfUnavailable();
const FIRST = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'];
const SECOND = ['ipv4/conf/all/forwarding', 'ipv4/conf/default/forwarding', 'ipv4/conf/lo/forwarding'];

/** Starts the growing script on the host (not under tripline); it waits for `go`, then for `finish`. */
function startGrowing(dir: string): { child: ChildProcess; pid: number; exited: Promise<void> } {
  const path = join(dir, 'grow.sh');
  const reads = (files: readonly string[]): string => `for f in ${files.join(' ')}; do read -r _ < ${NET}/$f; done`;
  writeFileSync(path, [
    reads(FIRST),
    `while [ ! -e ${join(dir, 'go')} ]; do sleep 0.05; done`,
    reads(SECOND),
    `while [ ! -e ${join(dir, 'finish')} ]; do sleep 0.05; done`,
    '',
  ].join('\n'));
  const child = spawn('/bin/sh', [path], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  assert.ok(child.pid !== undefined);
  return { child, pid: child.pid, exited };
}

/** Polls the JSONL file (written line by line, synchronously) until a revision of `pid` satisfies `wanted`. */
async function waitForRevision(path: string, pid: number, wanted: (d: Detection) => boolean, what: string, watch: WatchProcess): Promise<Detection> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = existsSync(path) ? parseJsonlRevisions(readFileSync(path, 'utf8')).find((d) => d.subject.process.pid === pid && wanted(d)) : undefined;
    if (found !== undefined) return found;
    if (Date.now() > deadline || watch.child.exitCode !== null) assert.fail(`${what} of pid ${String(pid)} was not written: ${watch.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

void test('watch: open, then updated while the script runs, closed last; report folds them into one', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const watch = startWatch(['--quiet', '--jsonl', jsonl]);
  let script: ReturnType<typeof startGrowing> | undefined;
  try {
    await watch.waitFor(/tripline: watching/, ATTACH_MS);
    script = startGrowing(dir);
    const open = await waitForRevision(jsonl, script.pid, (d) => d.state === 'open', 'the open revision', watch);
    assert.equal(open.revision, 1);
    assert.equal(open.evidence.directoryCount, 3);
    assert.equal(script.child.exitCode, null, 'written while the script still runs');
    writeFileSync(join(dir, 'go'), '');
    const updated = await waitForRevision(jsonl, script.pid, (d) => d.state === 'updated' && d.evidence.directoryCount === 6, 'an updated revision with the second burst', watch);
    assert.equal(updated.id, open.id);
    assert.equal(script.child.exitCode, null, 'written while the script still runs');
    writeFileSync(join(dir, 'finish'), '');
    await script.exited;
  } finally {
    writeFileSync(join(dir, 'finish'), '');
    watch.child.kill('SIGINT');
  }
  assert.equal(await watch.exited, 0, watch.stderr());
  const mine = parseJsonlRevisions(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.pid === script.pid);
  const n = mine.length;
  assert.ok(n >= 3, watch.stderr());
  assert.deepEqual(mine.map((d) => [d.revision, d.state]), mine.map((_, i) => [i + 1, i === 0 ? 'open' : i === n - 1 ? 'closed' : 'updated']));
  assert.equal(new Set(mine.map((d) => d.id)).size, 1);
  assert.equal(mine.at(-1)?.evidence.directoryCount, 6);
  const folded = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.pid === script.pid);
  assert.deepEqual(folded.map((d) => [d.revision, d.state]), [[n, 'closed']]);
  const report = await runCli(['report', '--json', '--quiet', jsonl], { cwd: dir, env: cleanEnv() });
  const summary = JSON.parse(report.stdout.trim().split('\n').at(-1) ?? '') as { detections: number; notClosed: number };
  assert.equal(summary.notClosed, 0, report.stderr);
  // The watch sees the whole host: other detections may be in the file; ours is one of them, once.
  assert.equal(summary.detections, parseJsonl(readFileSync(jsonl, 'utf8')).length);
}));

void test('watch killed before the close: report gives the last revision, said to be not closed', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const jsonl = join(dir, 'watch.jsonl');
  const watch = startWatch(['--quiet', '--jsonl', jsonl]);
  let script: ReturnType<typeof startGrowing> | undefined;
  let updated: Detection;
  try {
    await watch.waitFor(/tripline: watching/, ATTACH_MS);
    script = startGrowing(dir);
    await waitForRevision(jsonl, script.pid, (d) => d.state === 'open', 'the open revision', watch);
    writeFileSync(join(dir, 'go'), '');
    updated = await waitForRevision(jsonl, script.pid, (d) => d.state === 'updated' && d.evidence.directoryCount === 6, 'an updated revision with the second burst', watch);
  } finally {
    watch.child.kill('SIGKILL');
    writeFileSync(join(dir, 'finish'), '');
  }
  await watch.exited;
  await script.exited;
  const report = await runCli(['report', '--json', jsonl], { cwd: dir, env: cleanEnv() });
  assert.equal(report.exitCode, 0, report.stderr);
  const summary = JSON.parse(report.stdout.trim().split('\n').at(-1) ?? '') as { detections: number; notClosed: number };
  assert.ok(summary.notClosed >= 1, report.stderr);
  assert.ok(report.stderr.includes(`(not closed: revision ${String(updated.revision)}, the last written before the writer stopped`), report.stderr);
  assert.match(report.stderr, /never closed \(the writer stopped first\): their last revision is reported/);
}));
