// The dashboard's browser sessions: a `?token=` visit trades the long-lived token for a random
// session id with an expiry, and the cookie carries that id, never the token. Browsers send a
// cookie to every port of its host name, so whatever else listens there sees the cookie: it
// then holds a session that ends, not the token. Kept in memory only (a restart ends them all).

import { createHash, randomBytes } from 'node:crypto';

/** Bytes of randomness in a session id (256 bits, base64url: 43 characters). */
export const SESSION_ID_BYTES = 32;
/** How long a session lasts from the visit that made it, by default. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Most sessions kept at once, by default; issuing one more forgets the oldest. */
export const DEFAULT_MAX_SESSIONS = 256;

export interface SessionStoreOptions {
  readonly ttlMs?: number;
  readonly maxSessions?: number;
  readonly now?: () => number;
}

/** What a request's session id turned out to be. */
export type SessionCheck = 'live' | 'expired' | 'unknown';

/** The key a session is kept under: its SHA-256, so the lookup compares digests, not the secret. */
function keyOf(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

export class SessionStore {
  /** Key → expiry (ms since the epoch), oldest issued first (Map keeps insertion order). */
  private readonly sessions = new Map<string, number>();
  readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.ttlMs) || this.ttlMs <= 0) throw new RangeError(`session lifetime ${String(this.ttlMs)} ms: use a positive whole number`);
    if (!Number.isInteger(this.maxSessions) || this.maxSessions <= 0) throw new RangeError(`most sessions ${String(this.maxSessions)}: use a positive whole number`);
  }

  /** A new session id (random, base64url), live for `ttlMs`; the oldest is forgotten when full. */
  issue(): string {
    const now = this.now();
    this.forgetExpired(now);
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    const id = randomBytes(SESSION_ID_BYTES).toString('base64url');
    this.sessions.set(keyOf(id), now + this.ttlMs);
    return id;
  }

  /**
   * Whether `id` names a session that has not expired. The lookup is by the id's SHA-256: how
   * long it takes says something about a digest, nothing about a live id.
   */
  check(id: string): SessionCheck {
    const key = keyOf(id);
    const expires = this.sessions.get(key);
    if (expires === undefined) return 'unknown';
    if (this.now() >= expires) {
      this.sessions.delete(key);
      return 'expired';
    }
    return 'live';
  }

  /** How many sessions are kept (expired ones not yet forgotten included). */
  get size(): number {
    return this.sessions.size;
  }

  private forgetExpired(now: number): void {
    // Every session lasts as long, so expiries rise in issue order: stop at the first live one.
    for (const [key, expires] of this.sessions) {
      if (now < expires) break;
      this.sessions.delete(key);
    }
  }
}
