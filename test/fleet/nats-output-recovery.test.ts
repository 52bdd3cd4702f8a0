// The publisher's recovery paths against the real nats-server: a connection closed for good
// under a running output, a revision the stream refuses for good (max_msg_size), a failure
// that is not a disconnect followed by recovery. Each waits for the stream's count or a warning.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { DEFAULT_CONSUMER, NatsCollector } from '../../src/fleet/nats-collector.ts';
import { ensureStream } from '../../src/fleet/nats-connection.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { NATS_SERVER, NatsServer } from './nats-server.ts';
import { SimulatedHost, testNatsConfig, typicalDetection } from './simulated-host.ts';

const skip = NATS_SERVER === undefined ? 'nats-server is not installed (apt-get install nats-server)' : false;
const STREAM = 'TRIPLINE_DETECTIONS';

async function waitFor<T>(what: string, read: () => T | Promise<T>, holds: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (holds(value)) return value;
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not reached within ${String(timeoutMs)} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The output's live connection (private: the test closes it as nats.js does after repeated authentication errors). */
function outputConnection(host: SimulatedHost): NatsConnection | undefined {
  return (host.nats as unknown as { nc: NatsConnection | undefined }).nc;
}

describe('NatsOutput recovery', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: NatsServer;
  let admin: NatsConnection;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tripline-nats-recovery-'));
    server = await NatsServer.start(join(dir, 'js'));
    admin = await connect({ servers: server.url });
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await admin.close().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function messages(): Promise<number> {
    const jsm = await jetstreamManager(admin);
    return (await jsm.streams.info(STREAM)).state.messages;
  }

  it('connects again after its connection was closed for good, and later revisions arrive', async () => {
    const host = new SimulatedHost('closed-1', dir, testNatsConfig(server.url));
    cleanups.push(() => host.close());
    host.detect();
    await waitFor('first revisions sent', () => host.nats.counts.published, (n) => n === 2);
    const nc = outputConnection(host);
    assert.ok(nc !== undefined);
    await nc.close();
    const before = await messages();
    host.detect();
    await waitFor('revisions after the close sent', () => host.nats.counts.published, (n) => n === 4);
    assert.equal(await messages(), before + 2);
    assert.equal(host.nats.waiting(), 0);
    assert.notEqual(outputConnection(host), nc);
    assert.ok(host.warnings.some((w) => /connection closed.*connecting again/.test(w)), host.warnings.join('\n'));
    await host.close();
  });

  it('says each failure after a recovery, and says the recovery ("sending again")', async () => {
    const config = testNatsConfig(server.url);
    const host = new SimulatedHost('failing-1', dir, config);
    cleanups.push(() => host.close());
    const jsm = await jetstreamManager(admin);
    for (let round = 1; round <= 2; round++) {
      host.detect();
      await waitFor(`round ${String(round)}: revisions sent`, () => host.nats.waiting(), (n) => n === 0);
      await jsm.streams.delete(STREAM);
      host.detect();
      await waitFor(`round ${String(round)}: failure said`, () => host.warnings.filter((w) => /not acknowledged/.test(w)).length, (n) => n === round);
      await ensureStream(admin, config);
      await waitFor(`round ${String(round)}: recovery said`, () => host.warnings.filter((w) => /sending again/.test(w)).length, (n) => n === round);
      assert.equal(host.nats.waiting(), 0);
    }
    assert.equal(host.warnings.some((w) => /disconnected/.test(w)), false, host.warnings.join('\n'));
    await host.close();
  });

  it('makes the stream again when a publish finds it deleted, and says so', async () => {
    const config = testNatsConfig(server.url);
    const host = new SimulatedHost('wiped-0', dir, config, typicalDetection());
    cleanups.push(() => host.close());
    host.detect();
    await waitFor('first revisions sent', () => host.nats.counts.published, (n) => n === 2);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(STREAM);
    host.detect();
    await waitFor('revisions after the deletion sent', () => host.nats.counts.published, (n) => n === 4);
    assert.equal((await jsm.streams.info(STREAM)).state.messages, 2);
    assert.equal(host.warnings.filter((w) => /stream TRIPLINE_DETECTIONS was missing.*created it again/.test(w)).length, 1, host.warnings.join('\n'));
    await host.close();
  });

  it('makes the stream again when it is deleted under a running output and collector, and later revisions arrive', async () => {
    const config = testNatsConfig(server.url);
    // An empty stream: the collector's consumer delivers everything in it.
    await (await jetstreamManager(admin)).streams.delete(STREAM).catch(() => undefined);
    await ensureStream(admin, config);
    const store = openDetectionStore({ path: join(dir, 'collector.db'), create: true });
    const lines: string[] = [];
    const collector = new NatsCollector({ config, consumer: DEFAULT_CONSUMER, store, clientName: 'test collector', env: {}, log: (l) => { lines.push(l); } });
    cleanups.push(async () => { await collector.stop(); store.close(); });
    const host = new SimulatedHost('wiped-1', dir, config, typicalDetection());
    cleanups.push(() => host.close());
    const first = host.detect();
    await waitFor('first detection collected', () => collector.counts.recorded, (n) => n === 2);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(STREAM);
    const second = host.detect();
    // Made again by whichever comes first: the publisher (its failed publish) or the collector (its consumer deleted).
    await waitFor('the stream made again, and said', () => [...host.warnings, ...lines].filter((w) => /stream TRIPLINE_DETECTIONS was missing/.test(w)).length, (n) => n >= 1);
    await waitFor('second detection collected after the stream came back', () => collector.counts.recorded, (n) => n === 4, 60_000);
    // Collected comes a moment before the publisher has JetStream's ack.
    await waitFor('the outbox acknowledged', () => host.nats.waiting(), (n) => n === 0);
    assert.deepEqual(store.list({ limit: 10 }).items.map((r) => r.id).sort(), [first, second].sort());
    assert.ok(lines.some((l) => /consuming stream TRIPLINE_DETECTIONS failed/.test(l)), lines.join('\n'));
    assert.equal(lines.filter((l) => /^collecting from NATS/.test(l)).length, 2, lines.join('\n'));
    await host.close();
    await collector.stop();
  });

  it('counts and says a revision larger than the stream\'s max_msg_size as refused, and sends the ones after it', async () => {
    const stream = 'TRIPLINE_SMALL';
    const config = testNatsConfig(server.url, { stream });
    const jsm = await jetstreamManager(admin);
    // The template detection is 74 kB of JSON: over a 16 kB message limit; the typical one (16 files) is under it.
    await jsm.streams.delete(STREAM).catch(() => undefined);
    await jsm.streams.add({ name: stream, subjects: ['tripline.detections.>'], max_msg_size: 16_384 });
    cleanups.push(() => jsm.streams.delete(stream));
    const big = new SimulatedHost('big-1', dir, config);
    cleanups.push(() => big.close());
    big.detect();
    await waitFor('both revisions refused', () => big.nats.counts.refused, (n) => n === 2);
    assert.equal(big.nats.waiting(), 0);
    assert.equal(big.warnings.filter((w) => /refused: .*message size exceeds maximum/i.test(w)).length, 2, big.warnings.join('\n'));
    await big.close();
    const small = new SimulatedHost('small-1', dir, config, typicalDetection());
    cleanups.push(() => small.close());
    small.detect();
    await waitFor('the typical detection sent', () => small.nats.counts.published, (n) => n === 2);
    assert.equal((await jsm.streams.info(stream)).state.messages, 2);
    await small.close();
  });
});
