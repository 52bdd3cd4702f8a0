// The fleet transport with the real parts: Debian's nats-server (JetStream on loopback),
// simulated hosts publishing with the real NatsOutput from their own stores' outboxes, and the
// real `tripline serve --from` (bin/tripline.js: dist/ must be built) collecting into its
// store. Every revision must arrive exactly once, through a server killed with SIGKILL and
// restarted, and through a collector killed mid-batch and restarted.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { hostSubject } from '../../src/fleet/nats-connection.ts';
import type { DetectionStore, StoredRevision } from '../../src/store/detection-store.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { startServe, type ServeProcess } from '../browser/serve-process.ts';
import { cleanEnv, killGroup } from '../e2e/run-tripline.ts';
import { NATS_SERVER, NatsServer } from './nats-server.ts';
import { SimulatedHost, templateDetection, testNatsConfig, typicalDetection } from './simulated-host.ts';

const skip = NATS_SERVER === undefined ? 'nats-server is not installed (apt-get install nats-server)' : false;

/** Polls `check` (a store read) until it holds; fails with `what` and the last value after `timeoutMs`. */
async function waitFor<T>(what: string, read: () => T, holds: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = read();
    if (holds(value)) return value;
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not reached within ${String(timeoutMs)} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every revision in a store, oldest first. */
function allRevisions(store: DetectionStore): StoredRevision[] {
  const out: StoredRevision[] = [];
  for (let batch = store.changesSince(0, 10_000); batch.length > 0; batch = store.changesSince(batch.at(-1)?.seq ?? 0, 10_000)) out.push(...batch);
  return out;
}

/** "id:revision" of each, sorted; asserting equality with the expected list says both "nothing lost" and "nothing twice". */
function keys(revisions: readonly StoredRevision[]): string[] {
  return revisions.map((r) => `${r.id}:${String(r.revision)}`).sort();
}

function expectedKeys(ids: readonly string[]): string[] {
  return ids.flatMap((id) => [`${id}:1`, `${id}:2`]).sort();
}

/** A serve process collecting from `url` into `storePath` (created here first: a store named with --store must exist). */
async function serveFrom(url: string, storePath: string, extra: readonly string[] = []): Promise<ServeProcess> {
  openDetectionStore({ path: storePath, create: true }).close();
  const serve = await startServe(['--store', storePath, '--from', url, ...extra], cleanEnv());
  await waitFor('serve subscribed', () => serve.stderr(), (text) => text.includes('collecting from NATS'));
  return serve;
}

describe('fleet transport over NATS JetStream', { skip, timeout: 300_000 }, () => {
  let dir: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tripline-fleet-'));
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('N hosts x M detections arrive exactly once in the collector\'s store, under each host\'s subject', async () => {
    const root = mkdtempSync(join(dir, 'nxm-'));
    const server = await NatsServer.start(join(root, 'js'));
    cleanups.push(() => server.stop());
    const serveStore = join(root, 'serve.db');
    const serve = await serveFrom(server.url, serveStore);
    cleanups.push(() => serve.stop());
    const config = testNatsConfig(server.url);
    const hosts = Array.from({ length: 5 }, (_, i) => new SimulatedHost(`web-${String(i)}.example.com`, root, config));
    // A failed assertion must not leave their connections open: the test process would never end.
    cleanups.push(() => Promise.all(hosts.map((h) => h.close())));
    const ids: string[] = [];
    // A few through StoreOutput, as a session records them; the rest in batches (a slow disk's fsync per revision would make the test minutes long).
    for (const h of hosts) ids.push(h.detect(), h.detect());
    for (let m = 0; m < 19; m++) for (const h of hosts) ids.push(...h.detectMany(2));
    const store = openDetectionStore({ path: serveStore, create: false });
    try {
      const revisions = await waitFor('every revision in serve\'s store', () => allRevisions(store), (r) => r.length >= ids.length * 2);
      // Stored by the collector comes a moment before the publisher has JetStream's ack.
      await waitFor('every outbox acknowledged', () => hosts.reduce((n, h) => n + h.nats.waiting(), 0), (n) => n === 0);
      await Promise.all(hosts.map((h) => h.close()));
      assert.deepEqual(keys(allRevisions(store)), expectedKeys(ids));
      for (const r of revisions) {
        assert.equal(r.origin, hostSubject(r.detection.host.hostname), `origin of ${r.id}`);
        assert.equal(r.detection.recipe.id, templateDetection().recipe.id);
      }
      assert.equal(store.list({ limit: 1_000 }).items.every((r) => r.state === 'closed' && r.revision === 2), true, 'the current revision of each is the closed one');
      for (const h of hosts) assert.deepEqual(h.warnings, []);
    } finally {
      store.close();
    }
    assert.equal(await serve.stop(), 0);
    assert.match(serve.stderr(), /collected 400 message\(s\): 400 revision\(s\) stored, 0 already stored, 0 malformed/);
  });

  it('loses and duplicates nothing when the server is killed (SIGKILL) and restarted mid-stream', async () => {
    const root = mkdtempSync(join(dir, 'server-kill-'));
    const server = await NatsServer.start(join(root, 'js'));
    cleanups.push(() => server.stop());
    const serveStore = join(root, 'serve.db');
    const serve = await serveFrom(server.url, serveStore);
    cleanups.push(() => serve.stop());
    const hosts = Array.from({ length: 3 }, (_, i) => new SimulatedHost(`db-${String(i)}`, root, testNatsConfig(server.url)));
    // A failed assertion must not leave their connections open: the test process would never end.
    cleanups.push(() => Promise.all(hosts.map((h) => h.close())));
    const store = openDetectionStore({ path: serveStore, create: false });
    try {
      const ids: string[] = [];
      for (let m = 0; m < 30; m++) for (const h of hosts) ids.push(...h.detectMany(3));
      await waitFor('some revisions collected', () => allRevisions(store).length, (n) => n >= 20);
      await server.kill();
      // Made while the server is down: they wait in each host's outbox.
      for (let m = 0; m < 30; m++) for (const h of hosts) ids.push(...h.detectMany(3));
      await waitFor('the hosts know the server is gone', () => hosts.every((h) => h.warnings.some((w) => /disconnected|not acknowledged/.test(w))), (b) => b);
      assert.ok(hosts.some((h) => h.nats.waiting() > 0), 'revisions wait in an outbox while the server is down');
      await server.restart();
      for (let m = 0; m < 10; m++) for (const h of hosts) ids.push(...h.detectMany(3));
      await waitFor('every revision in serve\'s store', () => allRevisions(store).length, (n) => n >= ids.length * 2, 120_000);
      // Stored by the collector is not yet acknowledged to the publisher: a revision re-sent
      // after the restart is acknowledged (as a duplicate) a moment later. Every outbox must
      // empty, or a revision would wait there for ever.
      await waitFor('every outbox acknowledged', () => hosts.reduce((n, h) => n + h.nats.waiting(), 0), (n) => n === 0, 60_000);
      await Promise.all(hosts.map((h) => h.close()));
      assert.deepEqual(keys(allRevisions(store)), expectedKeys(ids));
    } finally {
      store.close();
    }
    assert.equal(await serve.stop(), 0);
  });

  it('a collector killed mid-batch resumes where it stopped, without loss or duplicates', async () => {
    const root = mkdtempSync(join(dir, 'serve-kill-'));
    const server = await NatsServer.start(join(root, 'js'));
    cleanups.push(() => server.stop());
    const serveStore = join(root, 'serve.db');
    const hosts = Array.from({ length: 4 }, (_, i) => new SimulatedHost(`ci-${String(i)}`, root, testNatsConfig(server.url), typicalDetection()));
    // A failed assertion must not leave their connections open: the test process would never end.
    cleanups.push(() => Promise.all(hosts.map((h) => h.close())));
    const ids: string[] = [];
    // Published before the collector runs, so that it starts with a backlog and is killed inside it.
    for (let m = 0; m < 10; m++) for (const h of hosts) ids.push(...h.detectMany(50));
    await waitFor('all published', () => hosts.reduce((n, h) => n + h.nats.waiting(), 0), (n) => n === 0, 120_000);
    const store = openDetectionStore({ path: serveStore, create: true });
    try {
      const first = await serveFrom(server.url, serveStore);
      cleanups.push(() => first.stop());
      const seen = await waitFor('the collector is inside the backlog', () => allRevisions(store).length, (n) => n > 0);
      killGroup(first.child);
      await new Promise((resolve) => first.child.once('exit', resolve));
      const atKill = allRevisions(store).length;
      assert.ok(atKill < ids.length * 2, `killed mid-stream (${String(seen)} then ${String(atKill)} of ${String(ids.length * 2)} stored)`);
      for (let m = 0; m < 20; m++) for (const h of hosts) ids.push(...h.detectMany(5));
      const second = await serveFrom(server.url, serveStore);
      cleanups.push(() => second.stop());
      await waitFor('every revision in serve\'s store', () => allRevisions(store).length, (n) => n >= ids.length * 2, 120_000);
      await Promise.all(hosts.map((h) => h.close()));
      assert.deepEqual(keys(allRevisions(store)), expectedKeys(ids));
      assert.equal(await second.stop(), 0);
      // What the killed collector had committed but not acknowledged came again: acknowledged, not stored twice.
      const summary = /collected (\d+) message\(s\): (\d+) revision\(s\) stored, (\d+) already stored/.exec(second.stderr());
      assert.ok(summary !== null, second.stderr());
      assert.equal(Number(summary[2]), ids.length * 2 - atKill, 'the second collector stored exactly what the first had not');
    } finally {
      store.close();
    }
  });

  it('terminates and counts messages that are not detection revisions, and goes on collecting', async () => {
    const root = mkdtempSync(join(dir, 'malformed-'));
    const server = await NatsServer.start(join(root, 'js'));
    cleanups.push(() => server.stop());
    const serveStore = join(root, 'serve.db');
    const serve = await serveFrom(server.url, serveStore);
    cleanups.push(() => serve.stop());
    const nc = await connect({ servers: server.url.replace('nats://', '') });
    try {
      const js = jetstream(nc);
      const t = templateDetection();
      await js.publish('tripline.detections.evil', 'not json {');
      await js.publish('tripline.detections.evil', JSON.stringify({ schema: 'tripline.detection/v1', id: 'x' }));
      const unrevised: Record<string, unknown> = { ...t, id: 'no-revision' };
      delete unrevised.revision;
      delete unrevised.state;
      await js.publish('tripline.detections.evil', JSON.stringify(unrevised));
      // On a subject holding a terminal escape: the collector's log must not pass it on raw.
      await js.publish('tripline.detections.\u001b[31mred', new Uint8Array([0xff, 0xfe, 0x00]));
      // A host's detection on another host's subject.
      await js.publish('tripline.detections.evil', JSON.stringify({ ...t, id: 'spoofed-1', revision: 1, state: 'open' }));
      await js.publish(hostSubject(t.host.hostname), JSON.stringify({ ...t, id: 'good-1', revision: 1, state: 'open' }));
    } finally {
      await nc.close();
    }
    const store = openDetectionStore({ path: serveStore, create: false });
    try {
      const [good] = await waitFor('the good message stored', () => allRevisions(store), (r) => r.length >= 1);
      assert.equal(good?.id, 'good-1');
      assert.equal(allRevisions(store).length, 1);
    } finally {
      store.close();
    }
    await waitFor('the malformed messages are said', () => serve.stderr(), (text) => (text.match(/terminated:/g) ?? []).length >= 5);
    assert.equal(await serve.stop(), 0);
    assert.match(serve.stderr(), /collected 6 message\(s\): 1 revision\(s\) stored, 0 already stored, 5 malformed \(terminated\)/);
    assert.match(serve.stderr(), /not JSON/);
    assert.match(serve.stderr(), /no revision/);
    assert.match(serve.stderr(), /sent on another host's subject/);
    // The subject is the sender's: shown escaped, no raw escape reaches the terminal.
    assert.match(serve.stderr(), /on tripline\.detections\.\\x1b\[31mred terminated: not JSON/);
    assert.equal(serve.stderr().includes('\u001b'), false);
  });
});
