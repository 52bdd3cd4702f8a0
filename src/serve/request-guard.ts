// Who may talk to the dashboard, and the headers every answer carries. Tripline runs as root on
// hosts where any local user, and any web page a local browser opens, may be hostile: loopback
// only by default with the Host header checked (DNS rebinding); any other address only with a
// token, compared in constant time on every request, assets and the event stream included (or a
// live session a `?token=` visit opened: the cookie never holds the token, session-store.ts).

import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { SessionStore } from './session-store.ts';

/** Longest request target taken (path and query). */
export const MAX_URL_CHARS = 2048;
/** Most query parameters taken in one request. */
export const MAX_QUERY_PARAMS = 16;
/** The cookie a `?token=` visit sets: a session id, never the token. */
export const SESSION_COOKIE = 'tripline_session';
/** Shortest token accepted: 128 bits in base64 or more in hex. */
export const MIN_TOKEN_CHARS = 22;
/** Longest token accepted. */
export const MAX_TOKEN_CHARS = 512;
/** The characters of a token: base64, base64url, hex; nothing that needs quoting in a header or cookie. */
const TOKEN_CHARACTERS = /^[A-Za-z0-9._~+/=-]+$/;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers every response carries, whatever it is. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=()',
};

/** Whether a bind address only accepts connections from this machine. */
export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/** Why a token cannot be used, or undefined when it can. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_CHARS) return `it is ${String(token.length)} characters long; use at least ${String(MIN_TOKEN_CHARS)} (e.g. openssl rand -base64 32)`;
  if (token.length > MAX_TOKEN_CHARS) return `it is longer than ${String(MAX_TOKEN_CHARS)} characters`;
  if (!TOKEN_CHARACTERS.test(token)) return 'it may only hold letters, digits and . _ ~ + / = - (base64 or hex)';
  return undefined;
}

export interface AccessPolicy {
  /** The server listens on a loopback address only: the Host header is checked. */
  readonly loopback: boolean;
  /** The port it listens on (the Host header must name it). */
  readonly port: number;
  /** The address it listens on, as the socket reports it (127.0.0.2, ::ffff:127.0.0.2): a browser names it in Host. */
  readonly address?: string;
  /** When set, every request must carry it or a live session (required off loopback). */
  readonly token: string | undefined;
  /** The sessions `?token=` visits open (used only with a token). */
  readonly sessions: SessionStore;
}

/** What a request looks like to the guard (node's IncomingMessage has all of it). */
export interface GuardedRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

export type GuardDecision =
  /** Serve it: the path and the query without the token. */
  | { readonly kind: 'pass'; readonly url: URL }
  /** A first visit with a good `?token=`: set the session cookie and send the browser to the URL without the token. */
  | { readonly kind: 'redirect'; readonly location: string; readonly setCookie: string }
  /** Refused, with the status and a message safe to show (it names no secret). */
  | { readonly kind: 'refuse'; readonly status: number; readonly message: string; readonly headers?: Readonly<Record<string, string>> };

/** How a browser writes `address` in a Host header: as typed, and as its URL parser normalizes it ([::ffff:7f00:2]). */
function addressNames(address: string): string[] {
  const bracketed = isIP(address) === 6 ? `[${address}]` : address;
  const names = [bracketed.toLowerCase()];
  try {
    names.push(new URL(`http://${bracketed}/`).hostname);
  } catch {
    // Not a literal a URL can hold (a zone id): only the form as typed.
  }
  return names;
}

/** The host names a browser may use for a loopback server on `port` listening on `address`. */
function loopbackHosts(port: number, address: string | undefined): string[] {
  const names = [...new Set(['127.0.0.1', 'localhost', '[::1]', ...(address === undefined ? [] : addressNames(address))])];
  const hosts = names.map((n) => `${n}:${String(port)}`);
  // A browser leaves the port out when it is the scheme's default.
  return port === 80 ? [...hosts, ...names] : hosts;
}

function header(request: GuardedRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** SHA-256 both, so the comparison takes the same time whatever the lengths. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header, undefined when absent. */
export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Decides what to do with a request before anything else reads it: the method, the size of
 * the target, the Host header on loopback, then the token (Authorization: Bearer, a live
 * session's cookie, or a `?token=` visit that opens a session and sets its cookie).
 */
export function guardRequest(request: GuardedRequest, policy: AccessPolicy): GuardDecision {
  const method = request.method ?? '';
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'refuse', status: 405, message: `method ${method.slice(0, 16)} is not allowed: the dashboard only reads (GET, HEAD)`, headers: { Allow: 'GET, HEAD' } };
  const target = request.url ?? '';
  if (target.length > MAX_URL_CHARS) return { kind: 'refuse', status: 414, message: `the request target is longer than ${String(MAX_URL_CHARS)} characters` };
  if (!target.startsWith('/')) return { kind: 'refuse', status: 400, message: 'the request target must be a path' };
  if (policy.loopback) {
    const host = header(request, 'host');
    const allowed = loopbackHosts(policy.port, policy.address);
    if (host === undefined || !allowed.includes(host.toLowerCase())) {
      return { kind: 'refuse', status: 421, message: `the Host header must be ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1) ?? ''} (this server only answers on loopback)` };
    }
  }
  let url: URL;
  try {
    url = new URL(target, 'http://dashboard.invalid');
  } catch {
    return { kind: 'refuse', status: 400, message: 'the request target is not a valid URL' };
  }
  // "//host/x" and "/\\host" name another host; "/.//host" a path a redirect would turn into one.
  if (url.host !== 'dashboard.invalid' || url.pathname.startsWith('//')) return { kind: 'refuse', status: 400, message: 'the request target must be a path on this server' };
  if ([...url.searchParams.keys()].length > MAX_QUERY_PARAMS) return { kind: 'refuse', status: 400, message: `more than ${String(MAX_QUERY_PARAMS)} query parameters` };
  const queryTokens = url.searchParams.getAll('token');
  url.searchParams.delete('token');
  if (policy.token === undefined) {
    if (queryTokens.length > 0) return { kind: 'refuse', status: 400, message: 'parameter token: this server takes no token' };
    return { kind: 'pass', url };
  }
  const expected = policy.token;
  if (queryTokens.length > 0) {
    const given = queryTokens[0] ?? '';
    if (queryTokens.length > 1 || !sameToken(given, expected)) return unauthorized('the token is wrong');
    // The token leaves the URL (history, the address bar, a screenshot) and is not put in the
    // cookie either: a browser sends cookies to every port of a host name (SameSite ignores
    // ports), so any other service there would read it. The cookie holds a session that ends.
    // No Secure: serve speaks plain HTTP (a TLS proxy in front may add it, docs/dashboard.md).
    return {
      kind: 'redirect',
      location: `${url.pathname}${url.search}`,
      setCookie: `${SESSION_COOKIE}=${policy.sessions.issue()}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${String(Math.floor(policy.sessions.ttlMs / 1000))}`,
    };
  }
  const authorization = header(request, 'authorization');
  if (authorization !== undefined) {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization.trim());
    if (m?.[1] === undefined || !sameToken(m[1], expected)) return unauthorized('the bearer token is wrong');
    return { kind: 'pass', url };
  }
  const cookie = cookieValue(header(request, 'cookie'), SESSION_COOKIE);
  if (cookie === undefined) return unauthorized('a token is required: open the URL with ?token=TOKEN once, or send Authorization: Bearer TOKEN');
  const session = policy.sessions.check(cookie);
  if (session === 'expired') return unauthorized('the session has expired: open the URL with ?token=TOKEN again');
  if (session === 'unknown') return unauthorized('the session is not known here (serve restarted, or it was forgotten): open the URL with ?token=TOKEN again');
  return { kind: 'pass', url };
}

function unauthorized(message: string): GuardDecision {
  return { kind: 'refuse', status: 401, message, headers: { 'WWW-Authenticate': 'Bearer realm="tripline"' } };
}
