// Tests for the webhook output against a real HTTP server on 127.0.0.1: signing, ordering,
// retries and backoff, timeouts, the bounded queue, and close() giving up in time.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { MAX_RETRY_DELAY_MS, redactUrl, signatureOf, verifySignature, WebhookOutput } from './webhook-output.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;
const SECRET = 'top-secret-value';

function detections(n: number): Detection[] {
  return Array.from({ length: n }, (_, i) => ({ ...structuredClone(BASE), id: `det-${i + 1}` }));
}

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

type Reply = (res: ServerResponse, index: number, req: IncomingMessage) => void;

/** Runs `body` against a local server answering with `reply`; the server is closed afterwards. */
async function withServer(reply: Reply, body: (url: string, received: Received[]) => Promise<void>): Promise<void> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => { chunks.push(chunk); });
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      reply(res, received.length - 1, req);
    });
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as AddressInfo;
  try {
    await body(`http://127.0.0.1:${port}/hook`, received);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  }
}

function status(code: number, headers: Record<string, string> = {}): (res: ServerResponse) => void {
  return (res) => { res.writeHead(code, headers).end(); };
}

function ids(received: readonly Received[]): string[] {
  return received.map((r) => (JSON.parse(r.body.toString('utf8')) as Detection).id);
}

function gate(): { readonly opened: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

void test('delivers each detection as its JSON, with headers and a signature over the raw body', async () => {
  await withServer(status(204), async (url, received) => {
    const output = new WebhookOutput({ url, secret: SECRET, userAgent: 'tripline-test/1' });
    const sent = detections(3);
    for (const d of sent) output.closed(d);
    await output.close();

    assert.deepEqual(output.stats, { delivered: 3, failed: 0, dropped: 0, retried: 0, coalesced: 0, skipped: 0 });
    assert.equal(output.summary(), undefined);
    assert.equal(received.length, 3);
    received.forEach((r, i) => {
      const d = sent[i] as Detection;
      assert.equal(r.body.toString('utf8'), JSON.stringify(d));
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['user-agent'], 'tripline-test/1');
      assert.equal(r.headers['x-tripline-event'], 'detection');
      assert.equal(r.headers['x-tripline-delivery'], `${d.id}.${String(d.revision)}`);
      assert.equal(r.headers['x-tripline-detection'], d.id);
      assert.equal(r.headers['x-tripline-revision'], String(d.revision));
      assert.equal(r.headers['x-tripline-state'], 'closed');
      const signature = r.headers['x-tripline-signature'];
      assert.equal(signature, `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
      assert.ok(verifySignature(SECRET, r.body, signature));
      assert.ok(!verifySignature('wrong-secret', r.body, signature));
    });
  });
});

void test('unsigned when no secret is configured', async () => {
  await withServer(status(200), async (url, received) => {
    const output = new WebhookOutput({ url });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.equal(received[0]?.headers['x-tripline-signature'], undefined);
    assert.match(received[0]?.headers['user-agent'] ?? '', /tripline/);
  });
});

void test('a server that fails and recovers gets everything, in order, after retries', async () => {
  const accepted: Received[] = [];
  const reply: Reply = (res, index) => {
    if (index < 3) res.writeHead(503).end();
    else if (index === 3) res.socket?.destroy();
    else res.writeHead(200).end();
  };
  await withServer(reply, async (url, received) => {
    const output = new WebhookOutput({ url, secret: SECRET, backoffMs: 10 });
    for (const d of detections(4)) output.closed(d);
    await output.close();
    accepted.push(...received.slice(4));

    assert.deepEqual(output.stats, { delivered: 4, failed: 0, dropped: 0, retried: 4, coalesced: 0, skipped: 0 });
    assert.deepEqual(ids(accepted), ['det-1', 'det-2', 'det-3', 'det-4']);
    assert.deepEqual(ids(received.slice(0, 4)), ['det-1', 'det-1', 'det-1', 'det-1']);
    assert.equal(output.summary(), undefined);
  });
});

void test('a server that never recovers: close() gives up in time, counts failures and drops, hides secrets', { timeout: 30_000 }, async () => {
  // det-1 is refused (503) until its retries are spent; det-2 then gets no answer at all, with a
  // per-attempt timeout and retries that would outlast the test: close() must give up on it.
  const secondArrived = gate();
  const reply: Reply = (res) => {
    const last = received.at(-1);
    const id = last === undefined ? '' : (JSON.parse(last.body.toString('utf8')) as Detection).id;
    if (id === 'det-1') res.writeHead(503).end();
    else secondArrived.open();
  };
  let received: Received[] = [];
  await withServer(reply, async (url, got) => {
    received = got;
    const withCredentials = url.replace('http://', 'http://alice:hunter2@');
    const output = new WebhookOutput({ url: withCredentials, secret: SECRET, retries: 1, backoffMs: 10, timeoutMs: 600_000, drainTimeoutMs: 300 });
    for (const d of detections(3)) output.closed(d);
    // det-1 has failed for good once det-2 is on the wire: no clock decides what is counted.
    await secondArrived.opened;
    await output.close();
    output.closed(detections(1)[0] as Detection);

    const { delivered, failed, dropped } = output.stats;
    assert.equal(delivered, 0);
    assert.equal(failed, 1, 'det-1, after its retry');
    assert.equal(dropped, 3, 'det-2 in flight, det-3 queued, and the one after close()');
    const summary = output.summary() ?? '';
    assert.match(summary, /^webhook http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+\/\*\*\*: 0 delivered, \d failed \(HTTP 503\), \d dropped$/);
    for (const text of [summary, output.name]) {
      assert.ok(!text.includes(SECRET) && !text.includes('hunter2'), text);
    }
    assert.equal(received[0]?.headers.authorization, `Basic ${Buffer.from('alice:hunter2').toString('base64')}`);
  });
});

void test('a 400 is not retried and counts as failed', async () => {
  await withServer(status(400), async (url, received) => {
    const output = new WebhookOutput({ url, backoffMs: 10 });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.equal(received.length, 1);
    assert.deepEqual(output.stats, { delivered: 0, failed: 1, dropped: 0, retried: 0, coalesced: 0, skipped: 0 });
    assert.match(output.summary() ?? '', /: 0 delivered, 1 failed \(HTTP 400\), 0 dropped$/);
  });
});

void test('a server that never answers: each attempt times out, then the delivery fails', async () => {
  const neverAnswer: Reply = () => undefined;
  await withServer(neverAnswer, async (url, received) => {
    const output = new WebhookOutput({ url, timeoutMs: 100, retries: 1, backoffMs: 10 });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.equal(received.length, 2);
    assert.deepEqual(output.stats, { delivered: 0, failed: 1, dropped: 0, retried: 1, coalesced: 0, skipped: 0 });
    assert.match(output.summary() ?? '', /failed \(timed out after 100 ms\)/);
  });
});

void test('the queue is bounded: the newest are dropped, what was queued keeps its order', async () => {
  const release = gate();
  const reply: Reply = (res) => { void release.opened.then(() => { res.writeHead(200).end(); }); };
  await withServer(reply, async (url, received) => {
    const output = new WebhookOutput({ url, queueCapacity: 2 });
    // det-1 is taken at once and is in flight; det-2 and det-3 wait; det-4 and det-5 do not fit.
    for (const d of detections(5)) output.closed(d);
    assert.equal(output.stats.dropped, 2);
    release.open();
    await output.close();
    assert.deepEqual(output.stats, { delivered: 3, failed: 0, dropped: 2, retried: 0, coalesced: 0, skipped: 0 });
    assert.deepEqual(ids(received), ['det-1', 'det-2', 'det-3']);
    assert.match(output.summary() ?? '', /3 delivered, 0 failed, 2 dropped$/);
  });
});

void test('closed() returns at once, without waiting for the network', async () => {
  const release = gate();
  const arrived = gate();
  const reply: Reply = (res) => { arrived.open(); void release.opened.then(() => { res.writeHead(200).end(); }); };
  await withServer(reply, async (url) => {
    const output = new WebhookOutput({ url });
    // Synchronous and void: the caller (the engine's dispatch) never waits for the network.
    output.closed(detections(1)[0] as Detection);
    // The post is on the wire and unanswered, yet the caller has long moved on.
    await arrived.opened;
    assert.equal(output.stats.delivered, 0);
    release.open();
    await output.close();
    assert.equal(output.stats.delivered, 1);
  });
});

void test('backoff doubles from backoffMs with a little jitter, capped', async () => {
  await withServer(status(500), async (url) => {
    const waits: number[] = [];
    const sleep = (ms: number): Promise<void> => { waits.push(ms); return Promise.resolve(); };
    const output = new WebhookOutput({ url, backoffMs: 2000, sleep });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.deepEqual(output.stats, { delivered: 0, failed: 1, dropped: 0, retried: 4, coalesced: 0, skipped: 0 });
    assert.equal(waits.length, 4);
    [2000, 4000, 8000].forEach((expected, i) => {
      const wait = waits[i] ?? 0;
      assert.ok(wait >= expected * 0.9 && wait <= Math.min(expected * 1.1, MAX_RETRY_DELAY_MS), `wait ${i}: ${wait}`);
    });
    assert.equal(waits[3], MAX_RETRY_DELAY_MS);
  });
});

void test('429 honours a numeric Retry-After, capped', async () => {
  const replies = [status(429, { 'Retry-After': '2' }), status(429, { 'Retry-After': '3600' }), status(200)];
  await withServer((res, index) => { (replies[index] ?? status(200))(res); }, async (url) => {
    const waits: number[] = [];
    const sleep = (ms: number): Promise<void> => { waits.push(ms); return Promise.resolve(); };
    const output = new WebhookOutput({ url, sleep });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.deepEqual(waits, [2000, MAX_RETRY_DELAY_MS]);
    assert.deepEqual(output.stats, { delivered: 1, failed: 0, dropped: 0, retried: 2, coalesced: 0, skipped: 0 });
  });
});

void test('a redirect is not followed and counts as failed', async () => {
  await withServer(status(302, { Location: 'http://127.0.0.1:1/elsewhere' }), async (url, received) => {
    const output = new WebhookOutput({ url, secret: SECRET });
    output.closed(detections(1)[0] as Detection);
    await output.close();
    assert.equal(received.length, 1);
    assert.deepEqual(output.stats, { delivered: 0, failed: 1, dropped: 0, retried: 0, coalesced: 0, skipped: 0 });
  });
});

void test('signature helpers and URL redaction', () => {
  const body = '{"a":"é"}';
  const signature = signatureOf(SECRET, body);
  assert.match(signature, /^sha256=[0-9a-f]{64}$/);
  assert.equal(signature, signatureOf(SECRET, Buffer.from(body, 'utf8')));
  assert.ok(verifySignature(SECRET, body, signature));
  assert.ok(!verifySignature(SECRET, '{"a":"e"}', signature));
  assert.ok(!verifySignature(SECRET, body, undefined));
  assert.ok(!verifySignature(SECRET, body, 'sha256=abc'));
  assert.equal(redactUrl(new URL('https://user:pass@host.example/path?q=1')), 'https://user:***@host.example/***?***');
  assert.equal(redactUrl(new URL('https://token@host.example/')), 'https://***@host.example/');
  // Slack-style URLs carry their secret in the path: never shown.
  assert.equal(redactUrl(new URL('https://hooks.slack.com/services/T000/B000/XXXXSECRET')), 'https://hooks.slack.com/***');
  assert.throws(() => new WebhookOutput({ url: 'ftp://u:secretpw@host/' }), (error: Error) => !error.message.includes('secretpw'));
  assert.throws(() => new WebhookOutput({ url: 'not a url' }), /not a valid URL/);
});
