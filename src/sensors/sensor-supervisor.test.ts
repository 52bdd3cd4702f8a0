import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SensorEvent } from '../model/sensor-event.ts';
import type { CommandOutcome, Sensor, SensorDescription, SensorHealth, SensorObserver } from './sensor.ts';
import { SensorSupervisor } from './sensor-supervisor.ts';

/** A sensor driven by the test: its clock, its starts (which may fail) and its death. */
class ScriptedSensor implements Sensor {
  clock = 1_000;
  starts = 0;
  stops = 0;
  failNextStarts = 0;
  readonly drained = true;
  readonly fallbackReason = undefined;
  readonly consumerError = undefined;

  constructor(readonly observer: SensorObserver) {}

  describe(): SensorDescription {
    return { kind: 'ebpf', name: 'scripted', version: '1', label: 'eBPF, scripted 1' };
  }

  start(): Promise<void> {
    this.starts++;
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      return Promise.reject(new Error('refused\x1b[2J'));
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stops++;
    return Promise.resolve();
  }

  runCommand(): Promise<CommandOutcome> {
    return Promise.reject(new Error('not used'));
  }

  health(): SensorHealth {
    return { lines: 0, lost: 0, late: 0, orphans: 0, unparsed: 0, unparsedSamples: [], maxLatenessMs: 0, holdMs: 0, pending: 0 };
  }

  unobserved(): string[] {
    return [];
  }

  watchRoots(): Promise<void> {
    return Promise.resolve();
  }

  timings(): { attachMs: undefined; detachMs: undefined } {
    return { attachMs: undefined, detachMs: undefined };
  }

  nowMs(): number {
    return this.clock;
  }

  die(lastSeenMs: number): void {
    this.observer.onDied?.('scripted ended (SIGKILL)', lastSeenMs);
  }
}

/** A supervisor whose restarts wait for the test to run them. */
function supervised(restartDelaysMs?: readonly number[]): {
  supervisor: SensorSupervisor; sensor: ScriptedSensor; events: SensorEvent[]; said: string[]; timers: { run: () => void; delayMs: number }[];
} {
  const events: SensorEvent[] = [];
  const said: string[] = [];
  const timers: { run: () => void; delayMs: number }[] = [];
  let made: ScriptedSensor | undefined;
  const supervisor = new SensorSupervisor({
    create: (observer) => (made = new ScriptedSensor(observer)),
    onEvents: (e) => events.push(...e),
    say: (line) => said.push(line),
    ...(restartDelaysMs === undefined ? {} : { restartDelaysMs }),
    schedule: (run, delayMs) => {
      const t = { run, delayMs, cancelled: false };
      timers.push({ run: () => { if (!t.cancelled) run(); }, delayMs });
      return { cancel: () => { t.cancelled = true; } };
    },
  });
  assert.ok(made !== undefined);
  return { supervisor, sensor: made, events, said, timers };
}

function fire(timers: readonly { run: () => void }[], index: number): void {
  const t = timers[index];
  assert.ok(t !== undefined, `restart ${String(index)} was scheduled`);
  t.run();
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a sensor that dies opens a gap at its last delivered event, and a restart closes it', async () => {
  const { supervisor, sensor, events, said, timers } = supervised([1_000, 5_000]);
  await supervisor.start();
  sensor.clock = 2_000;
  sensor.die(1_500);
  assert.deepEqual(events, [{ kind: 'sensor-loss', timeMs: 1_500, lost: 0, gap: { startMs: 1_500, endMs: null } }]);
  assert.equal(timers[0]?.delayMs, 1_000);
  assert.match(said[0] ?? '', /scripted ended \(SIGKILL\); nothing is watched from .*; restarting in 1 s/);
  sensor.clock = 3_000;
  fire(timers, 0);
  await settle();
  assert.equal(sensor.starts, 2);
  assert.deepEqual(events.at(-1), { kind: 'sensor-loss', timeMs: 3_000, lost: 0, gap: { startMs: 1_500, endMs: 3_000 } });
  assert.deepEqual(supervisor.gaps, [{ startMs: 1_500, endMs: 3_000 }]);
  assert.equal(supervisor.gapCount, 1);
  assert.equal(supervisor.gapStartMs, undefined);
  await supervisor.stop();
  assert.equal(events.length, 2, 'no gap is left open at stop');
});

test('failed restarts keep one gap open, back off, and escape the failure before printing it', async () => {
  const { supervisor, sensor, events, said, timers } = supervised([1_000, 5_000]);
  await supervisor.start();
  sensor.failNextStarts = 2;
  sensor.die(1_000);
  fire(timers, 0);
  await settle();
  fire(timers, 1);
  await settle();
  assert.deepEqual(timers.map((t) => t.delayMs), [1_000, 5_000, 5_000], 'the last delay repeats');
  assert.equal(events.length, 1, 'one gap, opened once');
  assert.equal(supervisor.gapCount, 1);
  assert.ok(said.some((l) => l.includes('restarting scripted failed: refused\\x1b[2J')), said.join('\n'));
  assert.ok(!said.some((l) => l.includes('\x1b')), 'no raw escape reaches the terminal');
  assert.equal(supervisor.restarts, 3);
  sensor.clock = 9_000;
  await supervisor.stop();
  fire(timers, 2);
  await settle();
  assert.equal(sensor.starts, 3, 'a restart due after stop() does not run');
  assert.deepEqual(events.at(-1), { kind: 'sensor-loss', timeMs: 9_000, lost: 0, gap: { startMs: 1_000, endMs: 9_000 } }, 'stop closes the open gap');
});

test('without restart delays (run) a death opens the gap, says nothing itself, and schedules nothing', async () => {
  const { supervisor, sensor, events, said, timers } = supervised();
  await supervisor.start();
  sensor.die(1_200);
  assert.equal(timers.length, 0);
  assert.equal(said.length, 0);
  assert.equal(supervisor.diedReason, 'scripted ended (SIGKILL)');
  assert.deepEqual(events, [{ kind: 'sensor-loss', timeMs: 1_200, lost: 0, gap: { startMs: 1_200, endMs: null } }]);
});

test('a death reported while stopping is not a gap', async () => {
  const { supervisor, sensor, events, timers } = supervised([1_000]);
  await supervisor.start();
  await supervisor.stop();
  sensor.die(1_000);
  assert.equal(events.length, 0);
  assert.equal(timers.length, 0);
  assert.equal(sensor.stops, 1);
});
