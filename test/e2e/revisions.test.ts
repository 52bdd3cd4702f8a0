// End to end under `tripline run`: a detection leaves the moment it is made. A shell script reads
// three areas of /proc/sys/net itself (its own opens: the detection opens), waits for a file the
// test creates, reads three more directories (the same process: the detection grows), waits
// again, and exits. While it still runs, the JSONL file (every revision, TRIPLINE_JSONL_FINAL_ONLY=0)
// gets the open revision, then an updated one, and the webhook receiver gets the open one; the
// close comes last with the final evidence, and `tripline report` folds the revisions into one
// detection. By default `run` writes one line per detection.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Detection } from '../../src/model/detection.ts';
import { cleanEnv, describeRun, NET, parseJsonlRevisions, RECIPE_ID, runCli, runTripline, TEST_TIMEOUT, withTempDir, type TriplineResult } from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT * 2 };
const FIRST = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'];
const SECOND = ['ipv4/conf/all/forwarding', 'ipv4/conf/default/forwarding', 'ipv4/conf/lo/forwarding'];

/** The script: both bursts are opens by the shell itself (redirections), one process throughout. */
function growingScript(dir: string): string {
  const path = join(dir, 'grow.sh');
  const reads = (files: readonly string[]): string => `for f in ${files.join(' ')}; do read -r _ < ${NET}/$f; done`;
  writeFileSync(path, [
    reads(FIRST),
    `while [ ! -e ${join(dir, 'go')} ]; do sleep 0.05; done`,
    reads(SECOND),
    `while [ ! -e ${join(dir, 'finish')} ]; do sleep 0.05; done`,
    '',
  ].join('\n'));
  return path;
}

/** Polls the JSONL file until one of its lines satisfies `wanted` (the file is written line by line, synchronously). */
async function waitForLine(path: string, wanted: (d: Detection) => boolean, what: string, running: Promise<TriplineResult>): Promise<Detection> {
  const run = { ended: false };
  void running.then(() => { run.ended = true; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = existsSync(path) ? parseJsonlRevisions(readFileSync(path, 'utf8')).find(wanted) : undefined;
    if (found !== undefined) return found;
    if (run.ended) assert.fail(`the run ended before ${what} was written: ${describeRun(await running)}`);
    if (Date.now() > deadline) assert.fail(`${what} was not written within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

void describe('revision stream, end to end', () => {
  void test('run: open, then updated while the command runs, closed last; the webhook gets the open at once; report folds them', opts, () => withTempDir(async (dir) => {
    const posts: Detection[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Detection);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    try {
      const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/hook`;
      const jsonl = join(dir, 'detections.jsonl');
      const running = runTripline(['sh', growingScript(dir)], {
        dir, options: ['--quiet', '--output', `webhook=${url}`], env: cleanEnv({ TRIPLINE_JSONL_FINAL_ONLY: '0' }),
      });
      const open = await waitForLine(jsonl, (d) => d.state === 'open', 'the open revision', running);
      assert.equal(open.revision, 1);
      assert.equal(open.recipe.id, RECIPE_ID);
      assert.equal(open.evidence.directoryCount, 3);
      assert.ok(!existsSync(join(dir, 'go')), 'written while the script waits for the test');
      // The webhook has it too, before the command ends.
      while (!posts.some((p) => p.id === open.id)) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(posts[0]?.state, 'open');
      writeFileSync(join(dir, 'go'), '');
      // One revision, or two when the first read of the burst came over a second after the open.
      const updated = await waitForLine(jsonl, (d) => d.state === 'updated' && d.evidence.directoryCount === 6, 'an updated revision with the second burst', running);
      assert.equal(updated.id, open.id);
      assert.ok(updated.revision > 1);
      assert.ok(!existsSync(join(dir, 'finish')), 'written while the script waits for the test');
      writeFileSync(join(dir, 'finish'), '');
      const r = await running;
      assert.equal(r.exitCode, 0, describeRun(r));
      const n = r.revisions.length;
      assert.ok(n === 3 || n === 4, describeRun(r));
      assert.deepEqual(r.revisions.map((d) => [d.id, d.revision, d.state]), r.revisions.map((_, i) => [open.id, i + 1, i === 0 ? 'open' : i === n - 1 ? 'closed' : 'updated']), describeRun(r));
      const counts = r.revisions.map((d) => d.evidence.directoryCount);
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'the evidence only grows');
      assert.equal(r.detections.length, 1);
      const closed = r.detections[0];
      assert.equal(closed?.state, 'closed');
      assert.equal(closed.evidence.directoryCount, 6);
      assert.notEqual(closed.subject.process.exit, null, 'the final revision knows the script ended');
      // The webhook: the open at once, the close; the update changed nothing a receiver pages on.
      assert.deepEqual(posts.map((p) => [p.revision, p.state]), [[1, 'open'], [n, 'closed']]);
      // report folds the three lines into one detection, the closed one.
      const report = await runCli(['report', '--json', '--quiet', jsonl], { cwd: dir, env: cleanEnv() });
      assert.equal(report.exitCode, 0, report.stderr);
      const summary = JSON.parse(report.stdout.trim().split('\n').at(-1) ?? '') as { detections: number; notClosed: number };
      assert.deepEqual([summary.detections, summary.notClosed], [1, 0]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    }
  }));

  void test('run: a revision still pending when the command blocks goes out on time (no event needed)', opts, () => withTempDir(async (dir) => {
    // Both bursts within the second after the open, then the shell blocks opening a FIFO: no
    // system call completes until the test writes to it, so only run's timer can send the update.
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const script = join(dir, 'block.sh');
    writeFileSync(script, `for f in ${[...FIRST, ...SECOND].join(' ')}; do read -r _ < ${NET}/$f; done\nread -r _ < ${fifo}\n`);
    const jsonl = join(dir, 'detections.jsonl');
    const running = runTripline(['sh', script], { dir, options: ['--quiet'], env: cleanEnv({ TRIPLINE_JSONL_FINAL_ONLY: '0' }) });
    const updated = await waitForLine(jsonl, (d) => d.state === 'updated', 'an updated revision', running);
    assert.equal(updated.evidence.directoryCount, 6);
    writeFileSync(fifo, 'go\n');
    const r = await running;
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.deepEqual(r.revisions.map((d) => d.state), ['open', 'updated', 'closed'], describeRun(r));
  }));

  void test('run by default writes one line per detection: its closed revision', opts, () => withTempDir(async (dir) => {
    const script = join(dir, 'burst.sh');
    writeFileSync(script, `for f in ${[...FIRST, ...SECOND].join(' ')}; do read -r _ < ${NET}/$f; sleep 0.4; done\n`);
    const r = await runTripline(['sh', script], { dir, options: ['--quiet'] });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.deepEqual(r.revisions.map((d) => d.state), ['closed'], describeRun(r));
    assert.ok((r.revisions[0]?.revision ?? 0) >= 2, 'its revision counts the revisions made, written or not');
    assert.equal(r.revisions[0]?.evidence.directoryCount, 6);
  }));
});
