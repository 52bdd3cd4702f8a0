import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SensorHealthSample } from '../store/detection-store.ts';
import { lostOver } from './dashboard-api.ts';

function sample(source: 'run' | 'watch', lost: number, minute: number): SensorHealthSample {
  return {
    host: 'h', time: new Date(Date.UTC(2026, 11, 1, 4, minute)).toISOString(), source, sensor: 's', lines: 0, lost, late: 0, orphans: 0,
    unparsed: 0, gaps: 0, pending: 0, maxLatenessMs: 0, holdMs: 0, linesPerSecond: undefined, detections: 0,
  };
}

/** Newest first, as the store lists them. */
const newestFirst = (...s: SensorHealthSample[]): SensorHealthSample[] => s.reverse();

void test('watch totals: the increase over the window from the baseline before it', () => {
  assert.equal(lostOver(newestFirst(sample('watch', 10, 1), sample('watch', 25, 2), sample('watch', 25, 3)), sample('watch', 4, 0)), 21);
});

void test('no baseline: the sensor started inside the window, its whole total counts', () => {
  assert.equal(lostOver(newestFirst(sample('watch', 12, 1)), undefined), 12);
});

void test('a total that goes down is a restart, counted from zero', () => {
  assert.equal(lostOver(newestFirst(sample('watch', 30, 1), sample('watch', 5, 2), sample('watch', 9, 3)), sample('watch', 20, 0)), 10 + 9);
});

void test('run samples are whole runs: added as they are, between watch samples too', () => {
  assert.equal(lostOver(newestFirst(sample('watch', 1, 1), sample('run', 7, 2), sample('watch', 3, 3), sample('run', 2, 4)), undefined), 1 + 7 + 2 + 2);
});
