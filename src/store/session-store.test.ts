// The store as run and watch use it: a store that cannot be opened is one warning and no
// store; retention applied when it opens; a failing health sample warned about once; the
// output records revisions and leaves closing to the session.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { SensorHealthSample } from './detection-store.ts';
import { SessionStore, type SessionStoreSettings } from './session-store.ts';
import { openDetectionStore } from './sqlite-detection-store.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tripline-session-store-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function settings(path: string | null, extra: { retentionMs?: number } = {}): SessionStoreSettings {
  return { path, source: '--store', maxBytes: undefined, retentionMs: extra.retentionMs };
}

test('no store configured: nothing opened, nothing said', () => {
  const warnings: string[] = [];
  assert.equal(SessionStore.open(settings(null), {}, (m) => warnings.push(m)), undefined);
  assert.deepEqual(warnings, []);
});

test('a store that cannot be opened is one warning naming it and where it was chosen, and no store', () => {
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const warnings: string[] = [];
  assert.equal(SessionStore.open(settings(join(shared, 'tripline.db')), {}, (m) => warnings.push(m)), undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /shared\/tripline\.db: its directory .* can be written by others .*detections are not stored \(from --store\)/);
});

test('the output records each revision; the store stays open until the session closes it; retention applies at open', () => {
  const path = join(dir, 'tripline.db');
  const warnings: string[] = [];
  const s = SessionStore.open(settings(path), {}, (m) => warnings.push(m));
  assert.ok(s !== undefined);
  const open = { ...BASE, id: 'd1', revision: 1, state: 'open' as const };
  s.output.opened?.(open);
  s.output.closed?.({ ...open, revision: 2, state: 'closed' as const });
  assert.ok(!('close' in s.output), 'the session closes the store, after its last health sample');
  s.close();
  const check = openDetectionStore({ path, create: false });
  assert.deepEqual(check.revisions('d1').map((r) => r.state), ['open', 'closed']);
  check.close();
  // Everything recorded before now is older than a 1 ms retention once the clock has moved on.
  const recordedBy = Date.now();
  while (Date.now() <= recordedBy + 1) { /* the clock moves within a few ms */ }
  const again = SessionStore.open(settings(path, { retentionMs: 1 }), {}, (m) => warnings.push(m));
  assert.ok(again !== undefined);
  again.close();
  const after = openDetectionStore({ path, create: false });
  assert.equal(after.get('d1'), undefined, 'pruned at open');
  after.close();
  assert.deepEqual(warnings, []);
});

test('a health sample that cannot be stored is warned about once', () => {
  const warnings: string[] = [];
  const s = SessionStore.open(settings(join(dir, 'tripline.db')), {}, (m) => warnings.push(m));
  assert.ok(s !== undefined);
  const bad: SensorHealthSample = {
    host: 'h', time: 'not a time', source: 'watch', sensor: 's', lines: 0, lost: 0, late: 0, orphans: 0, unparsed: 0, gaps: 0, pending: 0,
    maxLatenessMs: 0, holdMs: 0, linesPerSecond: undefined, detections: 0,
  };
  s.recordHealth(bad);
  s.recordHealth(bad);
  s.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /a sensor health sample was not stored: .*not an ISO 8601 time/);
});
