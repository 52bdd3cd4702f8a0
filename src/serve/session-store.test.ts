import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SESSION_ID_BYTES, SessionStore } from './session-store.ts';

void describe('dashboard sessions', () => {
  void test('ids are 256 random bits in base64url, each different', () => {
    const store = new SessionStore();
    const ids = new Set(Array.from({ length: 50 }, () => store.issue()));
    assert.equal(ids.size, 50);
    for (const id of ids) {
      assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(id, 'base64url').length, SESSION_ID_BYTES);
      assert.equal(store.check(id), 'live');
    }
    assert.equal(store.check('A'.repeat(43)), 'unknown');
    assert.equal(store.check(''), 'unknown');
  });
  void test('a session lives ttlMs from its issue, then is expired once and forgotten', () => {
    let now = 0;
    const store = new SessionStore({ ttlMs: 1000, now: () => now });
    const id = store.issue();
    now = 999;
    assert.equal(store.check(id), 'live');
    now = 1000;
    assert.equal(store.check(id), 'expired');
    assert.equal(store.check(id), 'unknown');
    assert.equal(store.size, 0);
  });
  void test('issuing forgets the expired sessions, and the oldest live one past the bound', () => {
    let now = 0;
    const store = new SessionStore({ ttlMs: 1000, maxSessions: 2, now: () => now });
    const a = store.issue();
    now = 500;
    const b = store.issue();
    now = 1200;
    const c = store.issue();
    assert.equal(store.size, 2, 'the expired session was kept');
    assert.equal(store.check(a), 'unknown');
    const d = store.issue();
    assert.equal(store.check(b), 'unknown', 'the oldest live session outlived the bound');
    assert.equal(store.check(c), 'live');
    assert.equal(store.check(d), 'live');
  });
  void test('a lifetime or bound that is not a positive whole number is refused', () => {
    assert.throws(() => new SessionStore({ ttlMs: 0 }), RangeError);
    assert.throws(() => new SessionStore({ maxSessions: 0.5 }), RangeError);
  });
});
