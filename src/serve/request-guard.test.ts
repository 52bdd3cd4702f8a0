import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { cookieValue, guardRequest, isLoopbackAddress, MAX_URL_CHARS, SECURITY_HEADERS, SESSION_COOKIE, tokenProblem, type AccessPolicy, type GuardedRequest } from './request-guard.ts';
import { SessionStore } from './session-store.ts';

const TOKEN = 'c2VjcmV0LXRva2VuLW9mLXRoZS10ZXN0cw';
const LOOPBACK: AccessPolicy = { loopback: true, port: 7077, token: undefined, sessions: new SessionStore() };
const REMOTE: AccessPolicy = { loopback: false, port: 7077, token: TOKEN, sessions: new SessionStore() };

/** The status of a refusal, undefined for anything else. */
function status(d: ReturnType<typeof guardRequest>): number | undefined {
  return d.kind === 'refuse' ? d.status : undefined;
}

function get(url: string, headers: GuardedRequest['headers'] = { host: '127.0.0.1:7077' }, method = 'GET'): GuardedRequest {
  return { method, url, headers };
}

void describe('bind addresses', () => {
  void test('loopback: 127.0.0.0/8, ::1, localhost, IPv4-mapped 127.x', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
  });
  void test('anything else is not, including the wildcard addresses and names', () => {
    for (const a of ['0.0.0.0', '::', '192.0.2.2', '10.0.0.1', 'example.com', 'localhost.example.com', '128.0.0.1', '::2', '']) assert.equal(isLoopbackAddress(a), false, a);
  });
});

void describe('tokens', () => {
  void test('short, long or oddly spelled tokens are refused with the reason', () => {
    assert.match(tokenProblem('short') ?? '', /at least 22/);
    assert.match(tokenProblem('a'.repeat(513)) ?? '', /longer than 512/);
    assert.match(tokenProblem(`${'a'.repeat(30)};Path=/`) ?? '', /letters, digits/);
    assert.match(tokenProblem(`${'a'.repeat(30)} b`) ?? '', /letters, digits/);
    assert.equal(tokenProblem(TOKEN), undefined);
  });
});

void describe('loopback: the Host header (DNS rebinding)', () => {
  void test('127.0.0.1, localhost and [::1] with the port pass', () => {
    for (const host of ['127.0.0.1:7077', 'localhost:7077', '[::1]:7077', 'LOCALHOST:7077']) {
      assert.equal(guardRequest(get('/', { host }), LOOPBACK).kind, 'pass', host);
    }
  });
  void test('another name, another port, no port or no Host at all are refused with 421', () => {
    for (const host of ['evil.example:7077', '127.0.0.1:80', '127.0.0.1', 'localhost', '127.0.0.1:7077.evil.example', '192.0.2.2:7077', undefined]) {
      const d = guardRequest(get('/api/detections', { host }), LOOPBACK);
      assert.equal(status(d), 421, String(host));
    }
  });
  void test('the other loopback address it listens on passes too, as typed and as a browser normalizes it', () => {
    const on2: AccessPolicy = { ...LOOPBACK, address: '127.0.0.2' };
    for (const host of ['127.0.0.2:7077', '127.0.0.1:7077', 'localhost:7077']) assert.equal(guardRequest(get('/', { host }), on2).kind, 'pass', host);
    for (const host of ['127.0.0.3:7077', '127.0.0.2:7078', '127.0.0.2', 'evil.example:7077']) assert.equal(status(guardRequest(get('/', { host }), on2)), 421, host);
    const refused = guardRequest(get('/', { host: 'evil.example:7077' }), on2);
    assert.match(refused.kind === 'refuse' ? refused.message : '', /127\.0\.0\.2:7077/);
    assert.equal(status(guardRequest(get('/', { host: '127.0.0.2:7077' }), LOOPBACK)), 421, 'another loopback address than the one listened on');
    const mapped: AccessPolicy = { ...LOOPBACK, address: '::ffff:127.0.0.2' };
    for (const host of ['[::ffff:127.0.0.2]:7077', '[::ffff:7f00:2]:7077', '[::FFFF:7F00:2]:7077']) assert.equal(guardRequest(get('/', { host }), mapped).kind, 'pass', host);
    assert.equal(status(guardRequest(get('/', { host: '[::ffff:7f00:3]:7077' }), mapped)), 421);
    assert.equal(guardRequest(get('/', { host: '127.0.0.2' }), { ...on2, port: 80 }).kind, 'pass');
  });
  void test('port 80 may be left out, as browsers do', () => {
    assert.equal(guardRequest(get('/', { host: 'localhost' }), { ...LOOPBACK, port: 80 }).kind, 'pass');
  });
  void test('a ?token= on a server without a token is refused, not ignored', () => {
    const d = guardRequest(get(`/?token=${TOKEN}`), LOOPBACK);
    assert.equal(status(d), 400);
  });
});

void describe('methods and sizes', () => {
  void test('only GET and HEAD', () => {
    assert.equal(guardRequest(get('/', undefined, 'HEAD'), LOOPBACK).kind, 'pass');
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', '']) {
      const d = guardRequest(get('/', undefined, m), LOOPBACK);
      assert.equal(status(d), 405, m);
      assert.equal(d.kind === 'refuse' && d.headers?.Allow, 'GET, HEAD');
    }
  });
  void test('a long target is 414; too many parameters 400; an absolute-form target or one naming another host 400', () => {
    const long = guardRequest(get(`/api/detections?host=${'a'.repeat(MAX_URL_CHARS)}`), LOOPBACK);
    assert.equal(status(long), 414);
    const many = guardRequest(get(`/api/detections?${Array.from({ length: 17 }, (_, i) => `p${String(i)}=1`).join('&')}`), LOOPBACK);
    assert.equal(status(many), 400);
    for (const t of ['http://evil.example/', '//evil.example/x', '/\\evil.example', '/.//evil.example', '*']) {
      const d = guardRequest(get(t), LOOPBACK);
      assert.equal(status(d), 400, t);
    }
  });
});

void describe('token: on every request, timing-safe', () => {
  const remote = (url: string, headers: GuardedRequest['headers'] = {}): ReturnType<typeof guardRequest> => guardRequest(get(url, { host: '192.0.2.2:7077', ...headers }), REMOTE);

  void test('no token: 401 for the page, the assets, the API and the event stream', () => {
    for (const path of ['/', '/assets/app.js', '/assets/app.css', '/api/detections', '/api/events', '/nothing']) {
      const d = remote(path);
      assert.equal(status(d), 401, path);
      assert.match(d.kind === 'refuse' ? d.headers?.['WWW-Authenticate'] ?? '' : '', /^Bearer/);
    }
  });
  void test('Authorization: Bearer with the token passes; a wrong one or another scheme does not', () => {
    assert.equal(remote('/api/hosts', { authorization: `Bearer ${TOKEN}` }).kind, 'pass');
    assert.equal(remote('/api/hosts', { authorization: `bearer ${TOKEN}` }).kind, 'pass');
    for (const a of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, 'Bearer', `Bearer ${TOKEN} ${TOKEN}`, '']) {
      const d = remote('/api/hosts', { authorization: a });
      assert.equal(status(d), 401, a);
    }
  });
  /** The session id a `?token=` visit put in its cookie. */
  function visit(policy: AccessPolicy = REMOTE): string {
    const d = guardRequest(get(`/?token=${TOKEN}`, { host: '192.0.2.2:7077' }), policy);
    assert.ok(d.kind === 'redirect', d.kind);
    const m = new RegExp(`^${SESSION_COOKIE}=([A-Za-z0-9_-]+);`).exec(d.setCookie);
    assert.ok(m?.[1] !== undefined, d.setCookie);
    return m[1];
  }

  void test('?token= sets an HttpOnly SameSite=Strict session cookie (not the token) and redirects to the URL without it', () => {
    const d = remote(`/api/detections?host=web&token=${encodeURIComponent(TOKEN)}&importance=high`);
    assert.ok(d.kind === 'redirect', d.kind);
    assert.equal(d.location, '/api/detections?host=web&importance=high');
    assert.match(d.setCookie, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200$`));
    assert.ok(!d.setCookie.includes(TOKEN), 'the cookie holds the token');
    assert.notEqual(visit(), visit(), 'two visits got the same session id');
    const wrong = remote('/?token=wrong-token-but-long-enough');
    assert.equal(status(wrong), 401);
    const twice = remote(`/?token=${TOKEN}&token=${TOKEN}`);
    assert.equal(status(twice), 401);
  });
  void test('a live session\'s cookie passes; the token, a wrong id or another cookie does not', () => {
    const id = visit();
    assert.equal(remote('/api/events', { cookie: `a=1; ${SESSION_COOKIE}=${id}; b=2` }).kind, 'pass');
    assert.equal(status(remote('/api/events', { cookie: `${SESSION_COOKIE}=${TOKEN}` })), 401);
    assert.equal(status(remote('/api/events', { cookie: `tripline_token=${TOKEN}` })), 401);
    assert.equal(status(remote('/api/events', { cookie: `${SESSION_COOKIE}=${id}0` })), 401);
    assert.equal(status(remote('/api/events', { cookie: `${SESSION_COOKIE}=${id.slice(1)}` })), 401);
    assert.equal(status(remote('/api/events', { cookie: `other=${id}` })), 401);
  });
  void test('a session expires after its lifetime; the oldest is forgotten when too many are open', () => {
    let now = 1_000_000;
    const policy: AccessPolicy = { ...REMOTE, sessions: new SessionStore({ ttlMs: 60_000, maxSessions: 3, now: () => now }) };
    const withCookie = (id: string): ReturnType<typeof guardRequest> => guardRequest(get('/api/hosts', { host: '192.0.2.2:7077', cookie: `${SESSION_COOKIE}=${id}` }), policy);
    const first = visit(policy);
    now += 59_999;
    assert.equal(withCookie(first).kind, 'pass');
    now += 1;
    const expired = withCookie(first);
    assert.equal(status(expired), 401);
    assert.match(expired.kind === 'refuse' ? expired.message : '', /session has expired.*\?token=TOKEN again/);
    const ids = [visit(policy), visit(policy), visit(policy)];
    for (const id of ids) assert.equal(withCookie(id).kind, 'pass');
    const fourth = visit(policy);
    assert.equal(status(withCookie(ids[0] ?? '')), 401, 'the oldest session outlived the bound');
    for (const id of [ids[1] ?? '', ids[2] ?? '', fourth]) assert.equal(withCookie(id).kind, 'pass');
    assert.equal(policy.sessions.size, 3);
  });
  void test('a wrong bearer is refused even with a live session (the header is what the client meant)', () => {
    assert.equal(remote('/', { authorization: 'Bearer nope', cookie: `${SESSION_COOKIE}=${visit()}` }).kind, 'refuse');
  });
  void test('a token given on loopback is required there too, after the Host check', () => {
    const policy: AccessPolicy = { ...LOOPBACK, token: TOKEN };
    assert.equal(status(guardRequest(get('/api/detections'), policy)), 401);
    assert.equal(guardRequest(get('/api/detections', { host: '127.0.0.1:7077', authorization: `Bearer ${TOKEN}` }), policy).kind, 'pass');
    assert.equal(status(guardRequest(get('/api/detections', { host: 'evil.example:7077', authorization: `Bearer ${TOKEN}` }), policy)), 421);
  });
  void test('off loopback the Host header is not what protects: any Host with the token passes', () => {
    assert.equal(guardRequest(get('/', { host: 'dashboard.example:7077', authorization: `Bearer ${TOKEN}` }), REMOTE).kind, 'pass');
  });
  void test('property: no string but the token passes', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (guess) => {
      fc.pre(guess !== TOKEN);
      return remote('/', { authorization: `Bearer ${guess}` }).kind === 'refuse' && remote('/', { cookie: `${SESSION_COOKIE}=${guess}` }).kind === 'refuse';
    }));
  });
});

void describe('headers', () => {
  void test('the Content-Security-Policy forbids everything but this origin, inline code and framing', () => {
    const csp = SECURITY_HEADERS['Content-Security-Policy'] ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]) {
      assert.ok(csp.split('; ').includes(d), d);
    }
    assert.doesNotMatch(csp, /unsafe|\*|http:|https:/);
    assert.equal(SECURITY_HEADERS['X-Content-Type-Options'], 'nosniff');
    assert.equal(SECURITY_HEADERS['Referrer-Policy'], 'no-referrer');
  });
  void test('cookieValue reads one cookie among several', () => {
    assert.equal(cookieValue('a=1; b = 2 ;c=3', 'b'), '2');
    assert.equal(cookieValue('a=1', 'b'), undefined);
    assert.equal(cookieValue(undefined, 'b'), undefined);
  });
});
