// End to end with the real command: `tripline run --output nats=URL` (bin/tripline.js under the
// real strace: dist/ must be built) makes a detection that reaches the store of a real
// `tripline serve --from URL` through Debian's nats-server; what a run could not send (no
// server) waits in its store and is sent by the next run with that store.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hostSubject } from '../../src/fleet/nats-connection.ts';
import type { StoredRevision } from '../../src/store/detection-store.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { startServe } from '../browser/serve-process.ts';
import { cleanEnv, NET, RECIPE_ID, runTripline, THREE_FILES } from '../e2e/run-tripline.ts';
import { freePort, NATS_SERVER, NatsServer } from './nats-server.ts';

const skip = NATS_SERVER === undefined ? 'nats-server is not installed (apt-get install nats-server)' : false;
const READ_THREE = ['cat', ...THREE_FILES.map((f) => `${NET}/${f}`)];

async function revisionsOf(storePath: string, id: string, until: (r: readonly StoredRevision[]) => boolean, timeoutMs = 60_000): Promise<readonly StoredRevision[]> {
  const store = openDetectionStore({ path: storePath, create: false });
  try {
    const start = Date.now();
    for (;;) {
      const revisions = store.revisions(id);
      if (until(revisions)) return revisions;
      if (Date.now() - start > timeoutMs) assert.fail(`detection ${id} in ${storePath}: ${JSON.stringify(revisions.map((r) => [r.revision, r.state]))} after ${String(timeoutMs)} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    store.close();
  }
}

describe('tripline run --output nats', { skip, timeout: 240_000 }, () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tripline-fleet-run-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('a real run\'s detection reaches serve --from\'s store, every revision, under the host\'s subject', async () => {
    const root = mkdtempSync(join(dir, 'run-'));
    const server = await NatsServer.start(join(root, 'js'));
    const serveStore = join(root, 'serve.db');
    openDetectionStore({ path: serveStore, create: true }).close();
    const serve = await startServe(['--store', serveStore, '--from', server.url], cleanEnv());
    try {
      const r = await runTripline(READ_THREE, { dir: root, options: ['--output', `nats=${server.url}`] });
      assert.equal(r.exitCode, 0, r.stderr);
      const [detection] = r.detections;
      assert.ok(detection !== undefined, r.stderr);
      assert.equal(detection.recipe.id, RECIPE_ID);
      const local = openDetectionStore({ path: r.storePath ?? '', create: false });
      const made = local.revisions(detection.id).map((x) => [x.revision, x.state]);
      local.close();
      const received = await revisionsOf(serveStore, detection.id, (x) => x.length === made.length && made.length > 0);
      assert.deepEqual(received.map((x) => [x.revision, x.state]), made);
      assert.equal(received.at(-1)?.state, 'closed');
      for (const x of received) assert.equal(x.origin, hostSubject(detection.host.hostname));
      assert.doesNotMatch(r.stderr, /NATS.*(wait in the store|cannot connect)/);
    } finally {
      await serve.stop();
      await server.stop();
    }
  });

  it('what a run could not send (no server) waits in its store; the next run with that store sends it', async () => {
    const root = mkdtempSync(join(dir, 'later-'));
    const port = await freePort();
    const url = `nats://127.0.0.1:${String(port)}`;
    const yaml = join(root, 'tripline.yaml');
    writeFileSync(yaml, `outputs:\n  nats:\n    url: ${url}\n    drain_timeout: 2s\n`);
    const first = await runTripline(READ_THREE, { dir: root, options: ['--config', yaml] });
    assert.equal(first.exitCode, 0, first.stderr);
    const [detection] = first.detections;
    assert.ok(detection !== undefined, first.stderr);
    assert.match(first.stderr, /\d+ detection revision\(s\) not acknowledged by JetStream within 2s wait in the store .*the next tripline run or watch/);
    // The server comes up (on that port), with a collector.
    const server = await NatsServer.startOn(port, join(root, 'js'));
    const serveStore = join(root, 'serve.db');
    openDetectionStore({ path: serveStore, create: true }).close();
    const serve = await startServe(['--store', serveStore, '--from', url], cleanEnv());
    try {
      // A run that detects nothing, with the same store and server: it sends what waited.
      const second = await runTripline(['true'], { dir: root, options: ['--config', yaml] });
      assert.equal(second.exitCode, 0, second.stderr);
      assert.equal(second.detections.length, 0);
      assert.doesNotMatch(second.stderr, /wait in the store/);
      const received = await revisionsOf(serveStore, detection.id, (x) => x.at(-1)?.state === 'closed');
      assert.equal(received.at(-1)?.detection.id, detection.id);
    } finally {
      await serve.stop();
      await server.stop();
    }
  });

  it('refuses --output nats without a store, saying why', async () => {
    const root = mkdtempSync(join(dir, 'nostore-'));
    const r = await runTripline(['true'], { dir: root, options: ['--no-store', '--output', 'nats=nats://127.0.0.1:4222'] });
    assert.equal(r.exitCode, 64, r.stderr);
    assert.match(r.stderr, /NATS output sends from the detection store's outbox.*drop --no-store/);
  });
});
