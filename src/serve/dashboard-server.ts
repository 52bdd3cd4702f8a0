// The dashboard's HTTP server (node:http, no framework): the page and its assets, the JSON API
// over the detection store and the live event stream. Every request passes the guard first
// (request-guard.ts: method, size, Host, token); every answer carries the security headers;
// errors are JSON with a message and never a stack.

import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { visible } from '../model/visible.ts';
import type { DetectionStore } from '../store/detection-store.ts';
import { parseDetectionId, parseListQuery, parseNoQuery, parseStatsQuery, QueryError } from './api-query.ts';
import type { ErrorResponse } from './dashboard-api-types.ts';
import { detectionDetail, detectionStats, hostHealth, listDetections } from './dashboard-api.ts';
import type { Asset } from './dashboard-assets.ts';
import { guardRequest, isLoopbackAddress, SECURITY_HEADERS, tokenProblem, type AccessPolicy } from './request-guard.ts';
import { RevisionFeed } from './revision-feed.ts';
import { SessionStore } from './session-store.ts';

export interface DashboardServerOptions {
  readonly store: DetectionStore;
  /** The address to listen on (127.0.0.1 by default in the command). */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Required unless `host` is a loopback address. */
  readonly token: string | undefined;
  readonly assets: ReadonlyMap<string, Asset>;
  /** Store polling for live updates (ms), default 500. */
  readonly pollMs?: number;
  /** Heartbeat of the event stream (ms), default 15,000. */
  readonly heartbeatMs?: number;
  /** Most event-stream listeners at once, default 32. */
  readonly maxClients?: number;
  /** A line for the operator (stderr): a failed store read, never a request's content unescaped. */
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export interface DashboardServer {
  /** The address and port listened on, as a URL a browser on this machine can open. */
  readonly url: string;
  readonly port: number;
  readonly loopback: boolean;
  close(): Promise<void>;
}

/** Most connections at once (pages, API calls and streams together). */
const MAX_CONNECTIONS = 256;

/** Thrown when the server must not start (a non-loopback address without a good token). */
export class ServeRefusedError extends Error {
  override readonly name = 'ServeRefusedError';
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const loopback = isLoopbackAddress(options.host);
  if (options.token !== undefined) {
    const problem = tokenProblem(options.token);
    if (problem !== undefined) throw new ServeRefusedError(`the token cannot be used: ${problem}`);
  } else if (!loopback) {
    throw new ServeRefusedError(`listening on ${options.host}, which is not a loopback address, requires a token (--token-file FILE or TRIPLINE_SERVE_TOKEN)`);
  }
  const feed = new RevisionFeed(options.store, {
    pollMs: options.pollMs ?? 500,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    maxClients: options.maxClients ?? 32,
    log: options.log,
  });
  const now = options.now ?? Date.now;
  // Known once listening (the Host check needs the port a --port 0 was given).
  const bound: { policy?: AccessPolicy } = {};
  // Header size and count are bounded by node (16 KiB, maxHeadersCount); slow clients by the timeouts.
  const server: Server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 }, (request, response) => {
    if (bound.policy === undefined) {
      response.destroy();
      return;
    }
    handle(request, response, bound.policy, options, feed, now);
  });
  server.maxHeadersCount = 64;
  // What node refuses before a handler runs (headers over 16 KiB, a malformed request, a
  // request too slow) is answered with the same headers and a JSON error, not node's bare line.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return;
    const [status, reason, message] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'the request headers are larger than 16 KiB']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request took too long to arrive']
        : [400, 'Bad Request', 'the request is not valid HTTP'];
    const body = `${JSON.stringify({ error: message } satisfies ErrorResponse)}\n`;
    const headers = { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' };
    socket.end(`HTTP/1.1 ${String(status)} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  bound.policy = { loopback, port: address.port, address: address.address, token: options.token, sessions: new SessionStore({ now }) };
  const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostInUrl}:${String(address.port)}/`,
    port: address.port,
    loopback,
    close: async () => {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}

function send(response: ServerResponse, head: boolean, status: number, headers: OutgoingHttpHeaders, body: Buffer | string | undefined): void {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  response.writeHead(status, { ...SECURITY_HEADERS, ...headers, ...(bytes === undefined ? {} : { 'Content-Length': bytes.length }) });
  response.end(head ? undefined : bytes);
}

function sendJson(response: ServerResponse, head: boolean, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(response, head, status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers }, `${JSON.stringify(value)}\n`);
}

function sendError(response: ServerResponse, head: boolean, status: number, error: ErrorResponse, headers: OutgoingHttpHeaders = {}): void {
  sendJson(response, head, status, error, headers);
}

function handle(request: IncomingMessage, response: ServerResponse, policy: AccessPolicy, options: DashboardServerOptions, feed: RevisionFeed, now: () => number): void {
  const head = request.method === 'HEAD';
  const decision = guardRequest(request, policy);
  if (decision.kind === 'refuse') {
    sendError(response, head, decision.status, { error: decision.message }, decision.headers);
    return;
  }
  if (decision.kind === 'redirect') {
    send(response, head, 303, { Location: decision.location, 'Set-Cookie': decision.setCookie, 'Cache-Control': 'no-store' }, undefined);
    return;
  }
  const url = decision.url;
  try {
    route(request, response, head, url, options, feed, now);
  } catch (error) {
    if (error instanceof QueryError) {
      sendError(response, head, 400, { error: error.message, parameter: error.parameter });
      return;
    }
    options.log(`internal error on ${visible(url.pathname.slice(0, 200))}: ${visible((error as Error).message)}`);
    if (!response.headersSent) sendError(response, head, 500, { error: 'internal error (the server logged it)' });
    else response.destroy();
  }
}

function route(request: IncomingMessage, response: ServerResponse, head: boolean, url: URL, options: DashboardServerOptions, feed: RevisionFeed, now: () => number): void {
  const path = url.pathname;
  const asset = options.assets.get(path === '/index.html' ? '/' : path);
  if (asset !== undefined) {
    // The page keeps its filters in its address (/?host=...): checked like the API's.
    if (path === '/' || path === '/index.html') parseStatsQuery(url.searchParams, now());
    else parseNoQuery(url.searchParams);
    const headers = { 'Content-Type': asset.contentType, 'Cache-Control': 'no-cache', ETag: asset.etag };
    if (request.headers['if-none-match'] === asset.etag) send(response, head, 304, headers, undefined);
    else send(response, head, 200, headers, asset.body);
    return;
  }
  if (path === '/api/detections') {
    sendJson(response, head, 200, listDetections(options.store, parseListQuery(url.searchParams, now())));
    return;
  }
  if (path.startsWith('/api/detections/')) {
    parseNoQuery(url.searchParams);
    const id = parseDetectionId(path.slice('/api/detections/'.length));
    const detail = detectionDetail(options.store, id);
    if (detail === undefined) sendError(response, head, 404, { error: 'no detection has this id in the store' });
    else sendJson(response, head, 200, detail);
    return;
  }
  if (path === '/api/hosts') {
    parseNoQuery(url.searchParams);
    sendJson(response, head, 200, hostHealth(options.store, now()));
    return;
  }
  if (path === '/api/stats') {
    sendJson(response, head, 200, detectionStats(options.store, parseStatsQuery(url.searchParams, now())));
    return;
  }
  if (path === '/api/events') {
    parseNoQuery(url.searchParams);
    if (!feed.hasRoom()) {
      sendError(response, head, 503, { error: 'too many live pages are open; close one or reload later' }, { 'Retry-After': '30' });
      return;
    }
    response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    if (head) {
      response.end();
      return;
    }
    // A stream never times out on its own; the heartbeat and the client's close end it.
    request.socket.setTimeout(0);
    feed.add(response);
    return;
  }
  sendError(response, head, 404, { error: `nothing at ${path.slice(0, 200)}; the API is /api/detections, /api/detections/ID, /api/hosts, /api/stats, /api/events` });
}
