// The output queue with outputs that fail: nothing is turned off for good, what could not be
// written waits in a bounded retry buffer and is written in order once the output works again,
// and what had to be dropped is counted per output. Retries are fired by hand (no timers).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';
import { OutputQueue, type RetryScheduler } from './output-queue.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;

function detections(n: number): Detection[] {
  return Array.from({ length: n }, (_, i) => ({ ...BASE, id: `det-${String(i + 1)}` }));
}

/** Records each retry asked for; `fire()` runs the next one as if its delay had passed. */
class ManualTimers {
  readonly delays: number[] = [];
  private readonly due: (() => void)[] = [];
  readonly schedule: RetryScheduler = (ms, run) => {
    this.delays.push(ms);
    this.due.push(run);
    return () => {
      const i = this.due.indexOf(run);
      if (i >= 0) this.due.splice(i, 1);
    };
  };

  get pending(): number {
    return this.due.length;
  }

  fire(): void {
    const run = this.due.shift();
    assert.ok(run !== undefined, 'a retry is scheduled');
    run();
  }
}

/** Throws on its first `failures` writes, then writes. */
class FlakyOutput implements DetectionOutput {
  readonly written: string[] = [];
  reopened = 0;
  constructor(readonly name: string, private failures: number) {}

  closed(d: Detection): void {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('ENOSPC: no space left on device, write');
    }
    this.written.push(d.id);
  }

  reopen(): void {
    this.reopened++;
  }
}

function queueOf(outputs: DetectionOutput[], options: { retryCapacity?: number } = {}): { queue: OutputQueue; timers: ManualTimers; warnings: string[] } {
  const timers = new ManualTimers();
  const warnings: string[] = [];
  const queue = new OutputQueue(outputs, { warn: (m) => { warnings.push(m); }, schedule: timers.schedule, ...options });
  return { queue, timers, warnings };
}

function pushAll(queue: OutputQueue, list: readonly Detection[]): void {
  for (const detection of list) queue.push({ type: 'closed', detection });
  queue.drain();
}

describe('OutputQueue with a failing output', () => {
  test('an output that throws 3 times then works loses nothing, in order, and is reopened before each retry', async () => {
    const flaky = new FlakyOutput('jsonl /var/log/t.jsonl', 3);
    const steady = new FlakyOutput('steady', 0);
    const { queue, timers, warnings } = queueOf([flaky, steady]);
    const list = detections(5);
    pushAll(queue, list.slice(0, 3));
    assert.deepEqual(flaky.written, []);
    assert.deepEqual(steady.written, ['det-1', 'det-2', 'det-3'], 'the other outputs are not held up');
    assert.match(warnings[0] ?? '', /^output jsonl \/var\/log\/t\.jsonl failed: ENOSPC.*retried in 1 s$/);
    timers.fire();
    pushAll(queue, list.slice(3));
    timers.fire();
    timers.fire();
    assert.deepEqual(flaky.written, ['det-1', 'det-2', 'det-3', 'det-4', 'det-5']);
    assert.deepEqual(timers.delays, [1000, 2000, 5000], 'backoff grows');
    assert.equal(flaky.reopened, 3);
    assert.equal(timers.pending, 0);
    assert.match(warnings.at(-1) ?? '', /^output jsonl \/var\/log\/t\.jsonl works again after 3 failed attempts: 5 detections written late$/);
    // Working again, it gets the next detection at once.
    pushAll(queue, detections(6).slice(5));
    assert.equal(flaky.written[5], 'det-6');
    await queue.close();
    assert.deepEqual(queue.losses(), [{ name: 'jsonl /var/log/t.jsonl', detections: 0, notices: 0, revisions: 0, failedAttempts: 3, writtenLate: 5, lastError: 'ENOSPC: no space left on device, write' }]);
  });

  test('the backoff is capped at its last step', () => {
    const flaky = new FlakyOutput('x', 100);
    const { queue, timers } = queueOf([flaky]);
    pushAll(queue, detections(1));
    for (let i = 0; i < 6; i++) timers.fire();
    assert.deepEqual(timers.delays, [1000, 2000, 5000, 10_000, 30_000, 30_000, 30_000]);
  });

  test('an output that never recovers: the retry buffer is bounded, the oldest go, and everything unwritten is counted at close', async () => {
    const dead = new FlakyOutput('jsonl /dev/full', Infinity);
    const { queue, timers, warnings } = queueOf([dead], { retryCapacity: 4 });
    pushAll(queue, detections(10));
    timers.fire();
    assert.equal(warnings.filter((w) => w.includes('retry buffer is full')).length, 1, 'said once');
    await queue.close();
    assert.equal(timers.pending, 0, 'nothing scheduled after close');
    const [loss] = queue.losses();
    assert.equal(loss?.name, 'jsonl /dev/full');
    assert.equal(loss.detections, 10, 'six dropped from the full buffer, four still unwritten at the end');
    assert.equal(loss.writtenLate, 0);
    assert.ok(loss.failedAttempts >= 3, 'first call, one retry, the last try at close');
  });

  test('a full retry buffer keeps its head (possibly half written) and drops notices first', async () => {
    const calls: string[] = [];
    let failing = true;
    const output: DetectionOutput = {
      name: 'both',
      opened: (d) => { if (failing) throw new Error('EIO'); calls.push(`opened ${d.id}`); },
      closed: (d) => { if (failing) throw new Error('EIO'); calls.push(`closed ${d.id}`); },
    };
    const { queue, timers } = queueOf([output], { retryCapacity: 3 });
    const [a, b, c] = detections(3) as [Detection, Detection, Detection];
    queue.push({ type: 'closed', detection: a });
    queue.push({ type: 'opened', detection: b });
    queue.push({ type: 'closed', detection: b });
    queue.push({ type: 'closed', detection: c });
    queue.drain();
    failing = false;
    timers.fire();
    assert.deepEqual(calls, ['closed det-1', 'closed det-2', 'closed det-3']);
    await queue.close();
    assert.deepEqual(queue.losses().map((l) => [l.detections, l.notices]), [[0, 1]]);
  });

  test('SIGHUP (reopen) retries a failing output at once', () => {
    const flaky = new FlakyOutput('jsonl /x', 1);
    const { queue, timers } = queueOf([flaky]);
    pushAll(queue, detections(2));
    assert.equal(timers.pending, 1);
    queue.reopen();
    assert.deepEqual(flaky.written, ['det-1', 'det-2']);
    assert.equal(timers.pending, 0, 'the pending retry is cancelled');
  });

  test('an output that works is reopened on SIGHUP; one that cannot be reopened is said, and kept', () => {
    let reopenFails = true;
    const written: string[] = [];
    const output: DetectionOutput = {
      name: 'jsonl /y',
      closed: (d) => { written.push(d.id); },
      reopen: () => { if (reopenFails) throw new Error('EACCES'); },
    };
    const { queue, warnings } = queueOf([output]);
    queue.reopen();
    assert.deepEqual(warnings, ['output jsonl /y could not be reopened: EACCES']);
    reopenFails = false;
    pushAll(queue, detections(1));
    assert.deepEqual(written, ['det-1']);
  });
});
