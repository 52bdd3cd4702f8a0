// The live feed's bounds, with a fake store and fake responses: every listener gets each new
// revision once; one that stops reading is dropped; polling runs only while someone listens.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { DetectionStore, StoredRevision } from '../store/detection-store.ts';
import { RevisionFeed } from './revision-feed.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;

class FakeResponse extends EventEmitter {
  written: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function fakeStore(revisions: StoredRevision[]): { store: DetectionStore; polls: () => number } {
  let polls = 0;
  const store = {
    lastSeq: () => revisions.reduce((m, r) => Math.max(m, r.seq), 0),
    changesSince: (after: number, limit: number) => {
      polls++;
      return revisions.filter((r) => r.seq > after).slice(0, limit);
    },
  } as unknown as DetectionStore;
  return { store, polls: () => polls };
}

function revision(seq: number, id: string): StoredRevision {
  return { seq, id, revision: 1, state: 'open', recordedAt: '2026-12-01T05:00:00.000Z', origin: undefined, detection: { ...BASE, id } };
}

const OPTIONS = { pollMs: 60_000, heartbeatMs: 60_000, maxClients: 2, log: () => undefined };

void test('each listener gets each revision committed after it joined, once, as one event', () => {
  const revisions = [revision(1, 'old')];
  const { store } = fakeStore(revisions);
  const feed = new RevisionFeed(store, OPTIONS);
  const a = new FakeResponse();
  const b = new FakeResponse();
  feed.add(a as unknown as ServerResponse);
  feed.add(b as unknown as ServerResponse);
  revisions.push(revision(2, 'new-1'), revision(3, 'new-2'));
  feed.poll();
  feed.poll();
  for (const r of [a, b]) {
    const events = r.written.filter((w) => w.startsWith('id: '));
    assert.deepEqual(events.map((e) => /^id: (\d+)\nevent: revision\ndata: (.*)\n\n$/.exec(e)?.[1]), ['2', '3']);
    assert.ok(events.every((e) => e.split('\n').length === 5), 'one data line per event');
  }
  assert.equal(feed.hasRoom(), false);
  feed.close();
  assert.ok(a.ended && b.ended);
});

void test('a listener that stops reading is dropped, the others keep theirs', () => {
  const revisions: StoredRevision[] = [];
  const { store } = fakeStore(revisions);
  const feed = new RevisionFeed(store, OPTIONS);
  const slow = new FakeResponse();
  const fine = new FakeResponse();
  feed.add(slow as unknown as ServerResponse);
  feed.add(fine as unknown as ServerResponse);
  slow.writableLength = 2 * 1024 * 1024;
  revisions.push(revision(1, 'x'));
  feed.poll();
  assert.equal(slow.destroyed, true);
  assert.equal(feed.size, 1);
  assert.equal(fine.written.filter((w) => w.startsWith('id: ')).length, 1);
  feed.close();
});

void test('polling stops when the last listener leaves; a failing store is logged once per spell', () => {
  const logged: string[] = [];
  let failing = true;
  const store = {
    lastSeq: () => 0,
    changesSince: () => {
      if (failing) throw new Error('database is locked');
      return [];
    },
  } as unknown as DetectionStore;
  const feed = new RevisionFeed(store, { ...OPTIONS, log: (l) => logged.push(l) });
  const r = new FakeResponse();
  feed.add(r as unknown as ServerResponse);
  feed.poll();
  feed.poll();
  failing = false;
  feed.poll();
  assert.deepEqual(logged, ['cannot read new revisions from the store: database is locked', 'the store can be read again; live updates resume']);
  r.end();
  assert.equal(feed.size, 0);
  // No timer is left: the test process ends on its own (node:test would hang on a live interval).
});
