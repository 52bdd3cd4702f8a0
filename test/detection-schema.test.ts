// The published JSON Schema (schema/detection-v1.schema.json) must accept every detection the
// real engine emits, opened and closed, in every environment, and must reject events that
// stray from tripline.detection/v1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv2020, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { EngineOutput } from '../src/engine/engine.ts';
import type { Detection } from '../src/model/detection.ts';
import { FIXTURE_CWD, FIXTURE_DIR, replayFixture } from './replay-strace-fixture.ts';
import { DetectionPipeline } from '../src/engine/detection-pipeline.ts';
import { BUILTIN_RECIPES } from '../src/recipes/builtin-recipes.ts';
import { StraceEventStream } from '../src/sensors/strace/strace-event-stream.ts';
import type { DetectionContext } from '../src/model/detection-context.ts';
import { ENVIRONMENT_KINDS, type CiContext, type Environment, type EnvironmentKind } from '../src/model/environment.ts';

const SCHEMA_URL = new URL('../schema/detection-v1.schema.json', import.meta.url);
const FIXTURE_NAMES = ['sysctl-a.strace', 'three-areas.strace', 'audit-subshell.strace', 'setsid-bg.strace'] as const;

// RFC 3339 section 5.6 date-time (ajv-formats is not a dependency, so the format is defined here).
// The "T" and "Z" may be lower case per the RFC; the calendar and clock ranges are checked below.
const RFC3339_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isRfc3339DateTime(value: string): boolean {
  const m = RFC3339_DATE_TIME.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const sign = m[7];
  const offsetHour = Number(m[8] ?? '0');
  const offsetMinute = Number(m[9] ?? '0');
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 60 || offsetHour > 23 || offsetMinute > 59) return false;
  if (second === 60) {
    // A leap second is only ever inserted at 23:59:60 UTC.
    const offset = (sign === '-' ? -1 : 1) * (offsetHour * 60 + offsetMinute);
    const utcMinutes = (((hour * 60 + minute - offset) % 1440) + 1440) % 1440;
    if (utcMinutes !== 23 * 60 + 59) return false;
  }
  return true;
}

function compileSchema(): ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
  return ajv.compile(JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaObject);
}

const validate = compileSchema();

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `  ${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join('\n');
}

function assertValid(value: unknown, label: string): void {
  if (!validate(value)) assert.fail(`${label} does not match the schema:\n${describeErrors(validate.errors)}`);
}

/** Validates and returns the error keywords and paths, for the negative checks. */
function rejection(value: unknown): string[] {
  assert.equal(validate(value), false, 'the schema accepted an event it must reject');
  return (validate.errors ?? []).map((e) => `${e.keyword}@${e.instancePath}`);
}

const CI: CiContext = {
  provider: 'github-actions',
  repository: 'example/shop',
  workflow: 'build',
  job: 'test',
  runId: '9876543210',
  runAttempt: '1',
  sha: '0123456789abcdef0123456789abcdef01234567',
  ref: 'refs/heads/main',
  actor: 'octocat',
  url: 'https://github.com/example/shop/actions/runs/9876543210',
};

function contextFor(kind: EnvironmentKind): DetectionContext {
  const environment: Environment = kind === 'ci'
    ? { kind, source: 'CI variables (github-actions)', ci: CI }
    : { kind, source: kind === 'unknown' ? 'default' : '--environment' };
  // Vary the other nullable context fields too, so both of their forms are validated.
  const container = kind === 'production' ? { id: 'a'.repeat(64), runtime: 'docker' } : null;
  return {
    environment,
    host: { hostname: 'runner-1', kernel: '6.18.0', container },
    sensor: { name: 'strace', version: kind === 'unknown' ? null : '6.1' },
  };
}

function replay(fixture: string, kind: EnvironmentKind): EngineOutput[] {
  return replayFixture(fixture, { context: contextFor(kind) }).outputs;
}

describe('detections replayed from strace fixtures match the schema', () => {
  for (const fixture of FIXTURE_NAMES) {
    for (const kind of ENVIRONMENT_KINDS) {
      test(`${fixture} in ${kind}`, () => {
        const outputs = replay(fixture, kind);
        const opened = outputs.filter((o) => o.type === 'opened');
        const closed = outputs.filter((o) => o.type === 'closed');
        assert.ok(opened.length > 0, 'the fixture opened no detection');
        assert.ok(closed.length > 0, 'the fixture closed no detection');
        for (const o of outputs) {
          assertValid(o.detection, `${o.type} detection ${o.detection.id}`);
          // The event must survive the trip through JSON (what --jsonl writes) unchanged in meaning.
          assertValid(JSON.parse(JSON.stringify(o.detection)), `${o.type} detection ${o.detection.id} after JSON`);
          assert.equal(o.detection.environment.kind, kind);
        }
      });
    }
  }
});

/**
 * A fixture replayed through the pipeline as the live CLI feeds it, with what a sensor reports
 * when it loses events: 12 lost, and a 3 s gap, at the time of the subject's first exec.
 */
function replayWithLoss(fixture: string): EngineOutput[] {
  const stream = new StraceEventStream();
  const pipeline = new DetectionPipeline({
    recipes: BUILTIN_RECIPES, sessionId: 'loss', initialCwd: FIXTURE_CWD, initialUid: 0, context: contextFor('ci'),
  });
  const outputs: EngineOutput[] = [];
  let lossSent = false;
  const feed = (events: ReturnType<StraceEventStream['push']>): void => {
    for (const e of events) {
      outputs.push(...pipeline.push(e));
      if (!lossSent && e.kind === 'exec') {
        lossSent = true;
        outputs.push(...pipeline.push({ kind: 'sensor-loss', timeMs: e.timeMs, lost: 12, gap: { startMs: e.timeMs, endMs: e.timeMs + 3000 } }));
      }
    }
  };
  for (const line of readFileSync(new URL(fixture, FIXTURE_DIR), 'utf8').split('\n')) feed(stream.push(line));
  feed(stream.end());
  outputs.push(...pipeline.flush());
  return outputs;
}

describe('the sensor block: what the sensor missed', () => {
  test('every event the engine emits carries eventsLost, gaps and complete, and a complete one lost nothing', () => {
    for (const fixture of FIXTURE_NAMES) {
      for (const o of replay(fixture, 'ci')) {
        assert.deepEqual(
          { eventsLost: o.detection.sensor.eventsLost, gaps: o.detection.sensor.gaps, complete: o.detection.sensor.complete },
          { eventsLost: 0, gaps: [], complete: true },
          `${fixture}: ${o.detection.id}`,
        );
      }
    }
  });

  test('a detection whose subject lived through lost events and a sensor gap is valid and says it may be incomplete', () => {
    const outputs = replayWithLoss('three-areas.strace');
    const closed = outputs.filter((o) => o.type === 'closed');
    assert.ok(closed.length > 0, 'the fixture closed no detection');
    for (const o of outputs) {
      assertValid(o.detection, `${o.type} detection ${o.detection.id}`);
      assertValid(JSON.parse(JSON.stringify(o.detection)), `${o.type} detection ${o.detection.id} after JSON`);
      assert.equal(o.detection.sensor.complete, false);
      assert.equal(o.detection.sensor.eventsLost, 12);
      assert.equal(o.detection.sensor.gaps.length, 1);
      const gap = o.detection.sensor.gaps[0];
      assert.ok(gap !== undefined && gap.end !== null);
      assert.equal(Date.parse(gap.end) - Date.parse(gap.start), 3000);
    }
  });

  const [sample] = replayWithLoss('three-areas.strace').filter((o) => o.type === 'closed');
  assert.ok(sample !== undefined);
  const withSensor = (sensor: Record<string, unknown>): Record<string, unknown> => ({ ...JSON.parse(JSON.stringify(sample.detection)) as Record<string, unknown>, sensor });

  test('an event written before the loss fields existed (name and version only) is still valid', () => {
    assertValid(withSensor({ name: 'strace', version: '6.1' }), 'an old event');
  });

  test('the three loss fields come together: one alone is rejected', () => {
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: '0.20.2', complete: false })).includes('dependentRequired@/sensor'));
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: '0.20.2', eventsLost: 3 })).includes('dependentRequired@/sensor'));
  });

  test('complete cannot be claimed when events were lost or the sensor was down', () => {
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: null, eventsLost: 3, gaps: [], complete: true })).includes('const@/sensor/eventsLost'));
    const gap = { start: '2026-11-29T20:01:02.000Z', end: null };
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: null, eventsLost: 0, gaps: [gap], complete: true })).includes('maxItems@/sensor/gaps'));
    assertValid(withSensor({ name: 'bpftrace', version: null, eventsLost: 0, gaps: [gap], complete: false }), 'an open gap');
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: null, eventsLost: 0, gaps: [{ start: 'yesterday', end: null }], complete: false })).includes('format@/sensor/gaps/0/start'));
    assert.ok(rejection(withSensor({ name: 'bpftrace', version: null, eventsLost: -1, gaps: [], complete: false })).includes('minimum@/sensor/eventsLost'));
  });
});

describe('the schema rejects events outside tripline.detection/v1', () => {
  const sample = replay('three-areas.strace', 'ci').find((o) => o.type === 'closed')?.detection;
  assert.ok(sample !== undefined, 'three-areas.strace closed no detection');
  const base: Detection = sample;

  /** A mutable deep copy of the sample, as plain JSON. */
  function copy(): Record<string, unknown> & { recipe: Record<string, unknown>; evidence: { files: Record<string, unknown>[] } } {
    return JSON.parse(JSON.stringify(base)) as Record<string, unknown> & { recipe: Record<string, unknown>; evidence: { files: Record<string, unknown>[] } };
  }

  test('the unmodified sample is valid', () => {
    assertValid(copy(), 'the sample');
  });

  test('an extra top-level property', () => {
    const event = copy();
    event.severity = 'high';
    assert.ok(rejection(event).includes('additionalProperties@'));
  });

  test('an extra property in a nested object', () => {
    const event = copy();
    const file = event.evidence.files[0];
    assert.ok(file !== undefined);
    file.inode = 1234;
    assert.ok(rejection(event).includes('additionalProperties@/evidence/files/0'));
  });

  test('a wrong schema constant', () => {
    const event = copy();
    event.schema = 'tripline.detection/v2';
    assert.ok(rejection(event).includes('const@/schema'));
  });

  test('an importance outside the scale', () => {
    const event = copy();
    event.recipe.importance = 'severe';
    assert.ok(rejection(event).includes('enum@/recipe/importance'));
  });

  test('a missing required property', () => {
    const event = copy();
    delete event.guidance;
    assert.ok(rejection(event).includes('required@'));
  });

  test('a tactic id that is a technique id', () => {
    const event = copy();
    event.recipe.tactic = { id: 'T1082', name: 'System Information Discovery' };
    assert.ok(rejection(event).includes('pattern@/recipe/tactic/id'));
  });

  test('a time that is not an RFC 3339 date-time', () => {
    const event = copy();
    event.time = '2026-02-30T10:00:00Z';
    assert.ok(rejection(event).includes('format@/time'));
  });
});

describe('the date-time format', () => {
  test('accepts what Date.toISOString writes, and other RFC 3339 forms', () => {
    for (const value of [new Date(0).toISOString(), '2024-02-29T23:59:59.999Z', '1990-12-31T15:59:60-08:00', '2026-11-29t20:46:10+05:30', '2026-11-29T20:46:10.123456Z']) {
      assert.ok(isRfc3339DateTime(value), value);
    }
  });

  test('rejects dates, times and offsets out of range, and other spellings', () => {
    for (const value of ['', '2026-11-29', '2026-11-29 20:46:10Z', '2026-11-29T20:46:10', '2023-02-29T00:00:00Z', '2026-13-01T00:00:00Z',
      '2026-04-31T00:00:00Z', '2026-11-29T24:00:00Z', '2026-11-29T20:60:00Z', '2026-11-29T20:46:60Z', '2026-11-29T20:46:10+2400',
      '2026-11-29T20:46:10+24:00', '2026-11-29T20:46:10.Z', '+012026-11-29T20:46:10Z', '2026-11-29T20:46:10Z ']) {
      assert.ok(!isRfc3339DateTime(value), value);
    }
  });
});
