import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessHistory, readAsSameProcess } from './process-history.ts';

/** A /proc/PID/stat line whose start time (field 22) is `ticks`. */
const statWith = (ticks: number): string => `7 (sh) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${String(ticks)} 0`;

test('a read is kept only for the process that held the pid before and after it', () => {
  let ticks = 500;
  const stat = (): string => statWith(ticks);
  assert.deepEqual(readAsSameProcess(stat, 7, 1_000_000, () => 'env'), { startMs: 1_005_000, value: 'env' });
  // The pid is taken by another process while reading: nothing is kept.
  assert.equal(readAsSameProcess(stat, 7, 1_000_000, () => { ticks = 900; return 'env'; }), undefined);
  assert.equal(readAsSameProcess(() => undefined, 7, 1_000_000, () => 'env'), undefined, 'gone');
  assert.equal(readAsSameProcess(stat, -1, 1_000_000, () => 'env'), undefined);
  assert.equal(readAsSameProcess(stat, 7, 1_000_000, () => undefined), undefined, 'nothing to keep');
});

test('entries by pid and start: the holder at a first-seen time, bounded per pid and in pids', () => {
  const h = new ProcessHistory<string>(2, 2);
  h.set(10, 1_000, 'first');
  h.set(10, 5_000, 'second');
  assert.equal(h.at(10, 3_000), 'first', 'seen before the second holder started');
  assert.equal(h.at(10, 3_600), 'second', 'within the tolerance of the second start');
  assert.equal(h.at(10, undefined), 'second', 'predating the trace: the latest');
  assert.equal(h.at(10, -600), undefined, 'more than the tolerance (1.5 s) before any holder started');
  h.set(10, 5_000, 'second, read again');
  assert.equal(h.at(10, undefined), 'second, read again');
  h.set(10, 9_000, 'third');
  assert.equal(h.at(10, 2_000), undefined, 'the oldest entry of a pid went first');
  assert.ok(h.has(10, 9_000) && !h.has(10, 1_000));
  h.set(11, 1, 'a');
  h.set(12, 1, 'b');
  assert.equal(h.at(10, undefined), undefined, 'the pid set least recently is forgotten');
  assert.equal(h.at(12, undefined), 'b');
});

test('near: the entry of the same process timed two ways (a fork\'s time, the kernel\'s start), nearest first, none outside the window', () => {
  const h = new ProcessHistory<string>();
  h.set(20, 1_000, 'fork');
  h.set(20, 1_008, 'other');
  assert.deepEqual(h.near(20, 1_003, 10), { startMs: 1_000, value: 'fork' });
  assert.deepEqual(h.near(20, 1_006, 10), { startMs: 1_008, value: 'other' });
  assert.equal(h.near(20, 1_020, 10), undefined);
  assert.equal(h.near(21, 1_000, 10), undefined);
});
