// JSON Lines output on files that fail: a full device (/dev/full), a disk that fills up in the
// middle of a line, log rotation. Through the output queue, nothing is lost once the file
// works again and every line in the file is whole.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { JsonlOutput, openJsonlFile } from './jsonl-output.ts';
import { OutputQueue, type RetryScheduler } from './output-queue.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;

function detections(n: number): Detection[] {
  return Array.from({ length: n }, (_, i) => ({ ...BASE, id: `det-${String(i + 1)}` }));
}

function idsIn(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a whole line');
  return text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as Detection).id);
}

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

/** A queue whose retries run when the test says so. */
function manualQueue(output: JsonlOutput): { queue: OutputQueue; retry: () => void; warnings: string[] } {
  const due: (() => void)[] = [];
  const schedule: RetryScheduler = (_ms, run) => {
    due.push(run);
    return () => { due.splice(due.indexOf(run), 1); };
  };
  const warnings: string[] = [];
  const queue = new OutputQueue([output], { warn: (m) => { warnings.push(m); }, schedule });
  return {
    queue, warnings,
    retry: () => {
      const run = due.shift();
      assert.ok(run !== undefined, 'a retry is scheduled');
      run();
    },
  };
}

let dir = '';
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tripline-jsonl-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('JsonlOutput', () => {
  test('it has a name for warnings', () => {
    const path = join(dir, 'a.jsonl');
    const out = new JsonlOutput(path);
    out.close();
    assert.equal(out.name, `jsonl ${path}`);
  });

  test('on /dev/full a write throws; once the path is a working file again, the queue writes everything, in order', async () => {
    const path = join(dir, 'd.jsonl');
    let full = true;
    const output = new JsonlOutput(path, true, {
      // While "full", the path behaves like /dev/full (every write fails with ENOSPC).
      open: (p, append) => (full ? openSync('/dev/full', 'a') : openJsonlFile(p, append)),
      write: (fd, buffer, offset) => writeSync(fd, buffer, offset),
    });
    assert.throws(() => { output.closed(BASE); }, /ENOSPC/);
    const { queue, retry, warnings } = manualQueue(output);
    const list = detections(18);
    for (const detection of list) queue.push({ type: 'closed', detection });
    queue.drain();
    retry();
    assert.equal(existsSync(path), false, 'still failing: nothing written');
    full = false;
    retry();
    assert.deepEqual(idsIn(path), list.map((d) => d.id), 'reopened at its path, every detection written once, in order');
    await queue.close();
    const [loss] = queue.losses();
    assert.equal(loss?.name, `jsonl ${path}`);
    assert.equal(loss.detections, 0);
    assert.equal(loss.writtenLate, 18);
    assert.equal(loss.failedAttempts, 2);
    assert.match(warnings.at(-1) ?? '', /works again after 2 failed attempts: 18 detections written late/);
  });

  test('a disk that fills up in the middle of a line: the line is finished, never begun again', async () => {
    const path = join(dir, 'p.jsonl');
    let budget = Infinity;
    const output = new JsonlOutput(path, false, {
      open: openJsonlFile,
      write: (fd, buffer, offset) => {
        if (budget <= 0) throw enospc();
        const n = Math.min(budget, buffer.length - offset);
        budget -= n;
        return writeSync(fd, buffer, offset, n);
      },
    });
    const { queue, retry } = manualQueue(output);
    const list = detections(3);
    queue.push({ type: 'closed', detection: list[0] as Detection });
    queue.drain();
    budget = 100;
    queue.push({ type: 'closed', detection: list[1] as Detection });
    queue.push({ type: 'closed', detection: list[2] as Detection });
    queue.drain();
    budget = Infinity;
    retry();
    assert.deepEqual(idsIn(path), ['det-1', 'det-2', 'det-3']);
    await queue.close();
  });

  test('log rotation: after the file is renamed, reopen() starts a fresh file at the path', () => {
    const path = join(dir, 'r.jsonl');
    const output = new JsonlOutput(path, true);
    const [a, b] = detections(2) as [Detection, Detection];
    output.closed(a);
    renameSync(path, `${path}.1`);
    output.reopen();
    output.closed(b);
    output.close();
    assert.deepEqual(idsIn(`${path}.1`), ['det-1']);
    assert.deepEqual(idsIn(path), ['det-2']);
  });

  test('reopen() keeps the file when the path still names it (nothing is truncated)', () => {
    const path = join(dir, 'k.jsonl');
    const output = new JsonlOutput(path);
    const [a, b] = detections(2) as [Detection, Detection];
    output.closed(a);
    output.reopen();
    output.closed(b);
    output.close();
    assert.deepEqual(idsIn(path), ['det-1', 'det-2']);
  });

  test('a line cut by a full disk just before rotation is finished in the old file and not written twice', () => {
    const path = join(dir, 'c.jsonl');
    let budget = Infinity;
    const output = new JsonlOutput(path, true, {
      open: openJsonlFile,
      write: (fd, buffer, offset) => {
        if (budget <= 0) throw enospc();
        const n = Math.min(budget, buffer.length - offset);
        budget -= n;
        return writeSync(fd, buffer, offset, n);
      },
    });
    const [a, b] = detections(2) as [Detection, Detection];
    budget = 50;
    assert.throws(() => { output.closed(a); }, /ENOSPC/);
    budget = Infinity;
    renameSync(path, `${path}.1`);
    output.reopen();
    output.closed(a); // the queue's retry of the same detection
    output.closed(b);
    output.close();
    assert.deepEqual(idsIn(`${path}.1`), ['det-1']);
    assert.deepEqual(idsIn(path), ['det-2']);
  });
});
