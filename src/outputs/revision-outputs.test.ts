// How each output takes the revision stream: the bounded queue gives up superseded revisions
// first (counted as coalesced), never an open or a close while a revision can go; JSON Lines
// writes every revision, or the closed one alone (final only); the webhook sends the open at
// once, a revision only when what a receiver pages on changed, and the close.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { JsonlOutput } from './jsonl-output.ts';
import type { DetectionOutput } from './output.ts';
import { OutputQueue, type OutputEvent } from './output-queue.ts';
import { WebhookOutput } from './webhook-output.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;

/** Revision `revision` of detection `id` in `state`, its evidence grown with `revision`. */
function revision(id: string, rev: number, state: Detection['state'], change: Partial<Detection['evidence']> = {}): Detection {
  return { ...BASE, id, revision: rev, state, evidence: { ...BASE.evidence, accessCount: rev * 10, ...change } };
}

function event(d: Detection): OutputEvent {
  return { type: d.state === 'open' ? 'opened' : d.state, detection: d };
}

/** Records what it was given, as "id#revision/state". */
class Recorder implements DetectionOutput {
  readonly name = 'recorder';
  readonly seen: string[] = [];
  readonly opened = (d: Detection): void => { this.seen.push(`${d.id}#${String(d.revision)}/${d.state}`); };
  readonly updated = (d: Detection): void => { this.seen.push(`${d.id}#${String(d.revision)}/${d.state}`); };
  readonly closed = (d: Detection): void => { this.seen.push(`${d.id}#${String(d.revision)}/${d.state}`); };
}

describe('OutputQueue and revisions', () => {
  test('each output gets the kinds of revision it has a method for, in order', () => {
    const all = new Recorder();
    const finals: string[] = [];
    const queue = new OutputQueue([all, { name: 'finals', closed: (d) => { finals.push(d.id); } }], { warn: () => undefined });
    for (const d of [revision('a', 1, 'open'), revision('a', 2, 'updated'), revision('a', 3, 'closed')]) queue.push(event(d));
    queue.drain();
    assert.deepEqual(all.seen, ['a#1/open', 'a#2/updated', 'a#3/closed']);
    assert.deepEqual(finals, ['a']);
  });

  test('full: a revision superseded by a later one of the same detection goes first, counted as coalesced, not dropped', () => {
    const out = new Recorder();
    const queue = new OutputQueue([out], { warn: () => undefined, capacity: 4 });
    for (const d of [revision('a', 1, 'open'), revision('b', 1, 'open'), revision('a', 2, 'updated'), revision('b', 2, 'updated')]) queue.push(event(d));
    queue.push(event(revision('a', 3, 'updated')));
    queue.push(event(revision('b', 3, 'closed')));
    queue.drain();
    assert.deepEqual(out.seen, ['a#1/open', 'b#1/open', 'a#3/updated', 'b#3/closed']);
    assert.equal(queue.coalesced, 2);
    assert.equal(queue.dropped, 0);
  });

  test('full of opens and closes with a revision of another detection pending: the revision goes, the opens and closes stay', () => {
    const out = new Recorder();
    const queue = new OutputQueue([out], { warn: () => undefined, capacity: 3 });
    for (const d of [revision('a', 1, 'open'), revision('b', 2, 'updated'), revision('c', 2, 'closed')]) queue.push(event(d));
    queue.push(event(revision('d', 1, 'open')));
    queue.drain();
    assert.deepEqual(out.seen, ['a#1/open', 'c#2/closed', 'd#1/open']);
    assert.equal(queue.dropped, 1);
    assert.equal(queue.coalesced, 0);
  });

  test('an incoming revision is what goes when only closes are queued; a close still makes room', () => {
    const out = new Recorder();
    const queue = new OutputQueue([out], { warn: () => undefined, capacity: 2 });
    queue.push(event(revision('a', 2, 'closed')));
    queue.push(event(revision('b', 2, 'closed')));
    queue.push(event(revision('c', 2, 'updated')));
    queue.push(event(revision('d', 2, 'closed')));
    queue.drain();
    assert.deepEqual(out.seen, ['b#2/closed', 'd#2/closed']);
    assert.equal(queue.dropped, 2);
  });

  test('a failing output: its full retry buffer gives up superseded revisions first and keeps its head', () => {
    let failing = true;
    const written: string[] = [];
    const output: DetectionOutput = {
      name: 'flaky',
      opened: (d) => { if (failing) throw new Error('EIO'); written.push(`${d.id}#${String(d.revision)}`); },
      updated: (d) => { if (failing) throw new Error('EIO'); written.push(`${d.id}#${String(d.revision)}`); },
      closed: (d) => { if (failing) throw new Error('EIO'); written.push(`${d.id}#${String(d.revision)}`); },
    };
    const due: (() => void)[] = [];
    const queue = new OutputQueue([output], { warn: () => undefined, retryCapacity: 3, schedule: (_ms, run) => { due.push(run); return () => undefined; } });
    for (const d of [revision('a', 1, 'open'), revision('a', 2, 'updated'), revision('b', 1, 'open'), revision('a', 3, 'updated'), revision('a', 4, 'closed')]) queue.push(event(d));
    queue.drain();
    failing = false;
    due.shift()?.();
    assert.deepEqual(written, ['a#1', 'b#1', 'a#4']);
    assert.equal(queue.coalesced, 2);
    assert.deepEqual(queue.losses().map((l) => [l.detections, l.notices, l.revisions]), [[0, 0, 0]]);
  });

  test('full with opens only: an incoming revision of another detection is what goes, not their live notices', () => {
    const out = new Recorder();
    const queue = new OutputQueue([out], { warn: () => undefined, capacity: 2 });
    queue.push(event(revision('a', 1, 'open')));
    queue.push(event(revision('b', 1, 'open')));
    queue.push(event(revision('c', 2, 'updated')));
    queue.drain();
    assert.deepEqual(out.seen, ['a#1/open', 'b#1/open']);
    assert.equal(queue.dropped, 1);
  });

  test('a failing output whose retry buffer holds only final detections gives up an incoming revision or notice, never a final one', () => {
    let failing = true;
    const written: string[] = [];
    const write = (d: Detection): void => { if (failing) throw new Error('EIO'); written.push(`${d.id}#${String(d.revision)}/${d.state}`); };
    const output: DetectionOutput = { name: 'flaky', opened: write, updated: write, closed: write };
    const due: (() => void)[] = [];
    const queue = new OutputQueue([output], { warn: () => undefined, retryCapacity: 3, schedule: (_ms, run) => { due.push(run); return () => undefined; } });
    for (const d of [revision('a', 2, 'closed'), revision('b', 2, 'closed'), revision('c', 2, 'closed'), revision('d', 2, 'updated'), revision('e', 1, 'open')]) queue.push(event(d));
    queue.drain();
    failing = false;
    due.shift()?.();
    assert.deepEqual(written, ['a#2/closed', 'b#2/closed', 'c#2/closed']);
    assert.deepEqual(queue.losses().map((l) => [l.detections, l.notices, l.revisions]), [[0, 1, 1]]);
  });
});

describe('JsonlOutput and revisions', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tripline-revisions-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  function linesOf(path: string): string[] {
    return readFileSync(path, 'utf8').trim().split('\n').map((l) => {
      const d = JSON.parse(l) as Detection;
      return `${d.id}#${String(d.revision)}/${d.state}`;
    });
  }

  test('by default every revision is a line, as it is made', () => {
    const path = join(dir, 'all.jsonl');
    const output = new JsonlOutput(path);
    const queue = new OutputQueue([output], { warn: () => undefined });
    queue.push(event(revision('a', 1, 'open')));
    queue.drain();
    assert.deepEqual(linesOf(path), ['a#1/open'], 'the open line is there before the detection closes');
    queue.push(event(revision('a', 2, 'updated')));
    queue.push(event(revision('a', 3, 'closed')));
    queue.drain();
    output.close();
    assert.deepEqual(linesOf(path), ['a#1/open', 'a#2/updated', 'a#3/closed']);
  });

  test('final only: one line per detection, its closed revision', () => {
    const path = join(dir, 'final.jsonl');
    const output = new JsonlOutput(path, false, undefined, { finalOnly: true });
    const queue = new OutputQueue([output], { warn: () => undefined });
    for (const d of [revision('a', 1, 'open'), revision('b', 1, 'open'), revision('a', 2, 'updated'), revision('a', 3, 'closed'), revision('b', 2, 'closed')]) queue.push(event(d));
    queue.drain();
    output.close();
    assert.deepEqual(linesOf(path), ['a#3/closed', 'b#2/closed']);
  });
});

describe('WebhookOutput and revisions', () => {
  interface Post { readonly id: string; readonly revision: number; readonly state: string; readonly delivery: string | undefined }

  async function withReceiver(body: (url: string, posts: Post[], release: () => void) => Promise<void>): Promise<void> {
    const posts: Post[] = [];
    // Answers are held until released, so the test decides what is still queued.
    let held: (() => void)[] = [];
    let released = false;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => { chunks.push(c); });
      req.on('end', () => {
        const d = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Detection;
        posts.push({ id: d.id, revision: d.revision, state: d.state, delivery: req.headers['x-tripline-delivery'] as string | undefined });
        const answer = (): void => { res.writeHead(204).end(); };
        if (released) answer();
        else held.push(answer);
      });
    });
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    const { port } = server.address() as AddressInfo;
    const release = (): void => {
      released = true;
      for (const a of held) a();
      held = [];
    };
    try {
      await body(`http://127.0.0.1:${String(port)}/hook`, posts, release);
    } finally {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    }
  }

  test('the open at once, revisions only when importance, subject or the configuration flag change, the close always', () => withReceiver(async (url, posts, release) => {
    release();
    const hook = new WebhookOutput({ url });
    // Each delivery is awaited before the next revision, so none replaces another in the queue.
    const sent = async (n: number): Promise<void> => {
      while (posts.length < n) await new Promise<void>((resolve) => { setTimeout(resolve, 5); });
    };
    hook.opened(revision('a', 1, 'open'));
    await sent(1);
    hook.updated(revision('a', 2, 'updated'));
    hook.updated(revision('a', 3, 'updated', { directoryCount: 90 }));
    hook.updated(revision('a', 4, 'updated', { configurationChanged: true }));
    await sent(2);
    hook.updated(revision('a', 5, 'updated', { configurationChanged: true, directoryCount: 95 }));
    const other = revision('a', 6, 'updated', { configurationChanged: true });
    hook.updated({ ...other, recipe: { ...other.recipe, importance: 'critical' } });
    await sent(3);
    const exec = revision('a', 7, 'updated', { configurationChanged: true });
    hook.updated({ ...exec, recipe: { ...exec.recipe, importance: 'critical' }, subject: { ...exec.subject, process: { ...exec.subject.process, argv: ['sh', '-c', 'x'] } } });
    await sent(4);
    hook.closed(revision('a', 8, 'closed'));
    await hook.close();
    assert.deepEqual(posts.map((p) => `${String(p.revision)}/${p.state}`), ['1/open', '4/updated', '6/updated', '7/updated', '8/closed']);
    assert.deepEqual(posts.map((p) => p.delivery), ['a.1', 'a.4', 'a.6', 'a.7', 'a.8'], 'one delivery id per revision');
    assert.equal(hook.stats.skipped, 3);
    assert.equal(hook.stats.delivered, 5);
  }));

  test('a newer revision replaces a queued one of the same detection in its place (coalesced)', () => withReceiver(async (url, posts, release) => {
    const hook = new WebhookOutput({ url });
    hook.opened(revision('a', 1, 'open'));
    // 'a' is in flight (its answer held): what follows waits in the queue.
    while (posts.length === 0) await new Promise<void>((resolve) => { setImmediate(resolve); });
    hook.opened(revision('b', 1, 'open'));
    hook.opened(revision('c', 1, 'open'));
    hook.updated(revision('b', 2, 'updated', { configurationChanged: true }));
    hook.closed(revision('b', 3, 'closed'));
    release();
    await hook.close();
    assert.deepEqual(posts.map((p) => `${p.id}#${String(p.revision)}`), ['a#1', 'b#3', 'c#1']);
    assert.equal(hook.stats.coalesced, 2);
    assert.equal(hook.stats.dropped, 0);
  }));

  test('an open the full queue dropped is not taken as told: the next revision of that detection is sent', () => withReceiver(async (url, posts, release) => {
    const hook = new WebhookOutput({ url, queueCapacity: 1 });
    hook.opened(revision('a', 1, 'open'));
    while (posts.length === 0) await new Promise<void>((resolve) => { setImmediate(resolve); });
    hook.opened(revision('b', 1, 'open'));
    hook.opened(revision('c', 1, 'open'));
    assert.equal(hook.stats.dropped, 1, "c's open did not fit");
    release();
    while (posts.length < 2) await new Promise<void>((resolve) => { setImmediate(resolve); });
    // Nothing a receiver pages on changed since c's open, but the receiver never got that open.
    hook.updated(revision('c', 2, 'updated'));
    await hook.close();
    assert.deepEqual(posts.map((p) => `${p.id}#${String(p.revision)}`), ['a#1', 'b#1', 'c#2']);
    assert.equal(hook.stats.skipped, 0);
  }));
});
