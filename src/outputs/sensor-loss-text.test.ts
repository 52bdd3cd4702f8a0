// The one wording of sensor loss: counts, singular and plural, scope, dates, and a detection that
// says it is incomplete without saying why.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { sensorLossShort, sensorLossText, tallyOf } from './sensor-loss-text.ts';

const [base] = replayFixture('sysctl-a.strace').closed;
assert.ok(base);
const d: Detection = base;

function withSensor(sensor: Partial<Detection['sensor']>): Detection {
  return { ...d, sensor: { ...d.sensor, ...sensor } };
}

test('a complete detection has nothing to say', () => {
  assert.equal(sensorLossText(d), undefined);
  assert.equal(sensorLossShort(d), undefined);
  assert.equal(tallyOf([d, d]).brief(), undefined);
});

test('one event, a process tree, and an incomplete detection that does not say why', () => {
  assert.equal(sensorLossText(withSensor({ eventsLost: 1, complete: false })), 'evidence may be incomplete: 1 event lost while this process ran');
  const tree: Detection = { ...withSensor({ eventsLost: 2, complete: false }), subject: { ...d.subject, scope: 'process-tree' } };
  assert.equal(sensorLossText(tree), 'evidence may be incomplete: 2 events lost while this process tree ran');
  const unexplained = withSensor({ eventsLost: 0, gaps: [], complete: false });
  assert.equal(sensorLossText(unexplained), 'evidence may be incomplete: the sensor reported a loss');
  assert.equal(sensorLossShort(unexplained), 'sensor loss');
  assert.equal(tallyOf([unexplained]).brief(), '1 incomplete (sensor reported a loss)');
});

test('a gap whose times do not parse is shown as "?", never as its text', () => {
  const text = sensorLossText(withSensor({ gaps: [{ start: '\u001b[2Jnot a time', end: null }], complete: false })) ?? '';
  assert.equal(text, 'evidence may be incomplete: sensor down from ? (not back when this was written) UTC');
});

test('the tally keeps the largest count, not a sum (subjects overlap)', () => {
  const t = tallyOf([d, withSensor({ eventsLost: 5, complete: false }), withSensor({ eventsLost: 9, complete: false })]);
  assert.deepEqual([t.detections, t.incomplete, t.withLostEvents, t.withGaps, t.mostLost], [3, 2, 2, 0, 9]);
  assert.equal(t.brief(), '2 incomplete (sensor lost events)');
});
