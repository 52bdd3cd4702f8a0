// The dashboard server over a real SQLite store in a temporary directory, through real HTTP:
// the API's answers and errors, the headers on every response, the Host check, the token off
// loopback, and the live stream of revisions committed while a client listens.

import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { Importance } from '../model/importance.ts';
import type { DetectionStore, SensorHealthSample } from '../store/detection-store.ts';
import { openDetectionStore } from '../store/sqlite-detection-store.ts';
import type { DetectionDetailResponse, DetectionListResponse, HostsResponse, RevisionEvent, StatsResponse } from './dashboard-api-types.ts';
import { loadDashboardAssets } from './dashboard-assets.ts';
import { ServeRefusedError, startDashboardServer, type DashboardServer } from './dashboard-server.ts';
import { CONTENT_SECURITY_POLICY } from './request-guard.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;
const ASSETS = loadDashboardAssets();
const TOKEN = 'dGhlLWRhc2hib2FyZC10ZXN0LXRva2Vu';

function detection(id: string, host: string, importance: Importance, time: string, comm = BASE.subject.process.comm): Detection {
  return {
    ...BASE,
    id,
    time,
    host: { ...BASE.host, hostname: host },
    recipe: { ...BASE.recipe, importance },
    subject: { ...BASE.subject, process: { ...BASE.subject.process, comm } },
  };
}

function health(host: string, time: string, lost: number, gaps = 0): SensorHealthSample {
  return {
    host, time, source: 'watch', sensor: 'tripline-sensor 0.1', lines: 1000, lost, late: 0, orphans: 0, unparsed: 0, gaps,
    pending: 0, maxLatenessMs: 0, holdMs: 0, linesPerSecond: 12.5, detections: 1,
  };
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function call(base: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path, method: options.method ?? 'GET', headers: { host: url.host, ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }); });
    });
    r.on('error', reject);
    r.end();
  });
}

function assertSecurityHeaders(a: Answer, what: string): void {
  assert.equal(a.headers['content-security-policy'], CONTENT_SECURITY_POLICY, what);
  assert.equal(a.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(a.headers['referrer-policy'], 'no-referrer', what);
}

let dir: string;
let store: DetectionStore;
let server: DashboardServer;
const logged: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tripline-serve-'));
  store = openDetectionStore({ path: join(dir, 'tripline.db'), create: true });
  store.record({ detection: detection('d-web-1', 'web-1', 'high', '2026-12-01T04:00:00.000Z'), revision: 1, state: 'open' });
  store.record({ detection: detection('d-web-1', 'web-1', 'high', '2026-12-01T04:00:00.000Z'), revision: 2, state: 'closed' });
  store.record({ detection: detection('d-ci-7', 'ci-7', 'low', '2026-12-01T04:10:00.000Z'), revision: 1, state: 'closed' });
  store.recordHealth(health('web-1', '2026-12-01T04:00:00.000Z', 0));
  store.recordHealth(health('web-1', '2026-12-01T04:01:00.000Z', 40, 1));
  server = await startDashboardServer({ store, host: '127.0.0.1', port: 0, token: undefined, assets: ASSETS, pollMs: 25, heartbeatMs: 60_000, maxClients: 2, log: (l) => logged.push(l), now: () => Date.parse('2026-12-01T05:00:00.000Z') });
});

after(async () => {
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

void describe('the page and its assets', () => {
  void test('/ is the HTML shell that loads only its own script and style sheet', async () => {
    const a = await call(server.url, '/');
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'text/html; charset=utf-8');
    assertSecurityHeaders(a, '/');
    assert.match(a.body, /<script type="module" src="\/assets\/app\.js"><\/script>/);
    assert.doesNotMatch(a.body, /<script>|<style|\sstyle=|\son[a-z]+=|https?:\/\//, 'no inline script or style, no other origin');
  });
  void test('the assets are served with their types and an ETag; a matching If-None-Match is 304', async () => {
    const js = await call(server.url, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assertSecurityHeaders(js, 'app.js');
    assert.match(js.body, /uPlot|uplot/, 'the chart library is in the bundle');
    const again = await call(server.url, '/assets/app.js', { headers: { 'if-none-match': String(js.headers.etag) } });
    assert.equal(again.status, 304);
    const css = await call(server.url, '/assets/app.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });
  void test('the page takes the filters it keeps in its address; a bad one is refused by name', async () => {
    assert.equal((await call(server.url, '/?host=web-1&importance=high&since=24h')).status, 200);
    const bad = await call(server.url, '/?importance=severe');
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as { parameter: string }).parameter, 'importance');
    assert.equal((await call(server.url, '/assets/app.js?v=1')).status, 400);
  });
  void test('HEAD answers the headers without a body', async () => {
    const a = await call(server.url, '/', { method: 'HEAD' });
    assert.equal(a.status, 200);
    assert.equal(a.body, '');
    assert.ok(Number(a.headers['content-length']) > 100);
  });
});

void describe('the API', () => {
  void test('/api/detections lists the current revision of each, newest first, with filters', async () => {
    const all = JSON.parse((await call(server.url, '/api/detections')).body) as DetectionListResponse;
    assert.deepEqual(all.detections.map((d) => [d.id, d.revision, d.state, d.host]), [['d-ci-7', 1, 'closed', 'ci-7'], ['d-web-1', 2, 'closed', 'web-1']]);
    const high = JSON.parse((await call(server.url, '/api/detections?importance=medium')).body) as DetectionListResponse;
    assert.deepEqual(high.detections.map((d) => d.id), ['d-web-1']);
    const ci = JSON.parse((await call(server.url, '/api/detections?host=ci-7')).body) as DetectionListResponse;
    assert.deepEqual(ci.detections.map((d) => d.id), ['d-ci-7']);
    const recent = JSON.parse((await call(server.url, '/api/detections?since=2026-12-01T04:05:00Z')).body) as DetectionListResponse;
    assert.deepEqual(recent.detections.map((d) => d.id), ['d-ci-7']);
    const paged = JSON.parse((await call(server.url, '/api/detections?limit=1')).body) as DetectionListResponse;
    assert.equal(paged.detections.length, 1);
    assert.notEqual(paged.nextCursor, null);
    const next = JSON.parse((await call(server.url, `/api/detections?limit=1&cursor=${encodeURIComponent(paged.nextCursor ?? '')}`)).body) as DetectionListResponse;
    assert.deepEqual(next.detections.map((d) => d.id), ['d-web-1']);
  });
  void test('a bad parameter is 400 with JSON naming it, and the headers', async () => {
    for (const [query, parameter] of [['importance=severe', 'importance'], ['since=soon', 'since'], ['limit=0', 'limit'], ['hots=x', 'hots'], ['host=a&host=b', 'host']] as const) {
      const a = await call(server.url, `/api/detections?${query}`);
      assert.equal(a.status, 400, query);
      assertSecurityHeaders(a, query);
      const body = JSON.parse(a.body) as { error: string; parameter: string };
      assert.equal(body.parameter, parameter, query);
      assert.match(body.error, new RegExp(`^parameter ${parameter}:`), query);
    }
  });
  void test('/api/detections/ID has the detection and every revision; an unknown id is 404', async () => {
    const a = JSON.parse((await call(server.url, '/api/detections/d-web-1')).body) as DetectionDetailResponse;
    assert.equal(a.detection.id, 'd-web-1');
    assert.deepEqual(a.revisions.map((r) => [r.revision, r.state]), [[1, 'open'], [2, 'closed']]);
    assert.equal(a.summary.revision, 2);
    const missing = await call(server.url, '/api/detections/nope');
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing, '404');
  });
  void test('/api/hosts gives each host its newest health sample and the loss of the last day', async () => {
    const a = JSON.parse((await call(server.url, '/api/hosts')).body) as HostsResponse;
    const web = a.hosts.find((h) => h.host === 'web-1');
    assert.equal(web?.status, 'loss');
    assert.equal(web.health?.lost, 40);
    assert.equal(web.health.lostLastDay, 40);
    assert.equal(web.health.gaps, 1);
    assert.equal(web.detections, 1);
    const ci = a.hosts.find((h) => h.host === 'ci-7');
    assert.equal(ci?.status, 'unknown');
    assert.equal(ci.health, null);
  });
  void test('/api/stats counts detections in time buckets, with the filters', async () => {
    const a = JSON.parse((await call(server.url, '/api/stats')).body) as StatsResponse;
    assert.equal(a.total, 2);
    assert.equal(a.buckets.reduce((n, b) => n + b.count, 0), 2);
    assert.deepEqual(a.byHost, { 'web-1': 1, 'ci-7': 1 });
    const f = JSON.parse((await call(server.url, '/api/stats?host=web-1')).body) as StatsResponse;
    assert.equal(f.total, 1);
  });
  void test('an unknown path is a JSON 404; other methods are 405', async () => {
    const a = await call(server.url, '/etc/passwd');
    assert.equal(a.status, 404);
    assert.equal(a.headers['content-type'], 'application/json; charset=utf-8');
    const post = await call(server.url, '/api/detections', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assertSecurityHeaders(post, 'POST');
  });
  void test('headers over 16 KiB and malformed requests get a JSON error with the security headers', async () => {
    const url = new URL(server.url);
    const raw = (text: string): Promise<string> => new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) }, () => { socket.end(text); });
      let answer = '';
      socket.setEncoding('utf8').on('data', (c: string) => { answer += c; }).on('end', () => { resolve(answer); }).on('error', reject);
    });
    const big = await raw(`GET / HTTP/1.1\r\nHost: ${url.host}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assert.match(big, new RegExp(`Content-Security-Policy: ${CONTENT_SECURITY_POLICY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\r\n`));
    assert.match(big, /\{"error":"the request headers are larger than 16 KiB"\}/);
    const bad = await raw('NOT HTTP AT ALL\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 [\s\S]*X-Content-Type-Options: nosniff/);
  });
  void test('a Host header naming another host is refused (DNS rebinding)', async () => {
    const a = await call(server.url, '/api/detections', { headers: { host: `rebind.example:${String(server.port)}` } });
    assert.equal(a.status, 421);
    assertSecurityHeaders(a, '421');
    assert.doesNotMatch(a.body, /d-web-1/);
  });
  void test('a store that fails gives a 500 with a message and no stack; the operator gets the reason', async () => {
    const broken = new Proxy(store, { get: (t, p) => (p === 'list' ? () => { throw new Error('disk I/O error at /secret/path'); } : Reflect.get(t, p) as unknown) });
    const s = await startDashboardServer({ store: broken, host: '127.0.0.1', port: 0, token: undefined, assets: ASSETS, log: (l) => logged.push(l) });
    try {
      const a = await call(s.url, '/api/detections');
      assert.equal(a.status, 500);
      assert.deepEqual(JSON.parse(a.body), { error: 'internal error (the server logged it)' });
      assert.ok(logged.some((l) => l.includes('disk I/O error')));
    } finally {
      await s.close();
    }
  });
});

/** Reads server-sent events from `path` until `done` says stop; resolves with them. */
function readEvents(base: string, until: (events: { event: string; data: string }[]) => boolean, onOpen: () => void): Promise<{ event: string; data: string }[]> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: url.hostname, port: url.port, path: '/api/events', headers: { host: url.host } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      const events: { event: string; data: string }[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith('retry:')) { onOpen(); continue; }
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data });
          if (until(events)) {
            r.destroy();
            resolve(events);
            return;
          }
        }
      });
    });
    r.on('error', (e) => { if (!r.destroyed) reject(e); });
    r.end();
  });
}

void describe('live updates', () => {
  void test('a revision committed while a page listens arrives as an event', async () => {
    const events = await readEvents(server.url, (es) => es.length >= 2, () => {
      // Committed by another writer of the same file, as run and watch do.
      const writer = openDetectionStore({ path: store.path, create: false });
      writer.record({ detection: detection('d-live', 'web-2', 'medium', '2026-12-01T04:30:00.000Z'), revision: 1, state: 'open' });
      writer.record({ detection: detection('d-live', 'web-2', 'medium', '2026-12-01T04:30:00.000Z'), revision: 2, state: 'updated' });
      writer.close();
    });
    const data = events.map((e) => JSON.parse(e.data) as RevisionEvent);
    assert.deepEqual(events.map((e) => e.event), ['revision', 'revision']);
    assert.deepEqual(data.map((d) => [d.summary.id, d.summary.revision, d.summary.state, d.summary.host]), [['d-live', 1, 'open', 'web-2'], ['d-live', 2, 'updated', 'web-2']]);
    assert.ok((data[1]?.seq ?? 0) > (data[0]?.seq ?? 0));
  });
  void test('listeners are bounded: one more than the limit is 503', async () => {
    const url = new URL(server.url);
    const open = (): Promise<{ status: number; close: () => void }> => new Promise((resolve, reject) => {
      const r = httpRequest({ host: url.hostname, port: url.port, path: '/api/events', headers: { host: url.host } }, (res) => {
        resolve({ status: res.statusCode ?? 0, close: () => { r.destroy(); } });
      });
      r.on('error', (e) => { if (!r.destroyed) reject(e); });
      r.end();
    });
    const a = await open();
    const b = await open();
    const c = await open();
    try {
      assert.deepEqual([a.status, b.status, c.status], [200, 200, 503]);
    } finally {
      for (const x of [a, b, c]) x.close();
    }
  });
});

/** A non-loopback IPv4 address of this machine, undefined when it has none. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

void describe('another loopback address', () => {
  void test('--host 127.0.0.2 answers a request naming it in Host (and still refuses another name)', async () => {
    const s = await startDashboardServer({ store, host: '127.0.0.2', port: 0, token: undefined, assets: ASSETS, log: () => undefined });
    try {
      assert.equal(s.loopback, true);
      assert.equal(new URL(s.url).hostname, '127.0.0.2');
      const page = await call(s.url, '/');
      assert.equal(page.status, 200, page.body);
      assert.equal((await call(s.url, '/api/detections')).status, 200);
      assert.equal((await call(s.url, '/', { headers: { host: `evil.example:${String(s.port)}` } })).status, 421);
    } finally {
      await s.close();
    }
  });
});

void describe('off loopback', () => {
  void test('without a token the server refuses to start', async () => {
    await assert.rejects(startDashboardServer({ store, host: '0.0.0.0', port: 0, token: undefined, assets: ASSETS, log: () => undefined }), ServeRefusedError);
    await assert.rejects(startDashboardServer({ store, host: '127.0.0.1', port: 0, token: 'short', assets: ASSETS, log: () => undefined }), /at least 22/);
  });
  const address = externalAddress();
  void test('with a token: every request without it is 401; the bearer, the ?token= visit and its cookie pass', { skip: address === undefined ? 'this machine has no non-loopback IPv4 address' : false }, async () => {
    const s = await startDashboardServer({ store, host: address ?? '', port: 0, token: TOKEN, assets: ASSETS, log: () => undefined });
    try {
      assert.equal(s.loopback, false);
      for (const path of ['/', '/assets/app.js', '/api/detections', '/api/events', '/api/detections/d-web-1']) {
        const a = await call(s.url, path);
        assert.equal(a.status, 401, path);
        assertSecurityHeaders(a, path);
        assert.doesNotMatch(a.body, /d-web-1|<html/, path);
      }
      assert.equal((await call(s.url, '/api/detections', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal((await call(s.url, '/api/detections', { headers: { authorization: 'Bearer wrong-token-of-the-right-length' } })).status, 401);
      const visit = await call(s.url, `/?token=${TOKEN}`);
      assert.equal(visit.status, 303);
      assert.equal(visit.headers.location, '/');
      const cookie = String(visit.headers['set-cookie']?.[0]).split(';')[0] ?? '';
      assert.match(String(visit.headers['set-cookie']?.[0]), /HttpOnly; SameSite=Strict/);
      // The cookie holds a session id, not the token (any other port of this host name would read it).
      assert.match(cookie, /^tripline_session=[A-Za-z0-9_-]{43}$/);
      assert.ok(!cookie.includes(TOKEN));
      const page = await call(s.url, '/', { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.match(page.body, /<html/);
      assert.equal((await call(s.url, '/api/events', { method: 'HEAD', headers: { cookie } })).status, 200);
      assert.equal((await call(s.url, '/', { headers: { cookie: `tripline_session=${TOKEN}` } })).status, 401);
    } finally {
      await s.close();
    }
  });
});
