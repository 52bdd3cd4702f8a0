// Webhook output: POSTs detections as JSON to a URL, signed with an HMAC like GitHub's
// X-Hub-Signature-256: each detection when it opens, again only when a revision changes what a
// receiver pages on (importance, subject, the configuration-change flag), and when it closes.
// One delivery in flight at a time (in order), with retries and backoff, a bounded queue in
// which a newer revision replaces a queued one of the same detection, and a summary line when
// something was not delivered. `opened()`, `updated()` and `closed()` only enqueue; `close()`
// waits a bounded time for the queue and never rejects.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';

export interface WebhookOptions {
  readonly url: string;
  /** HMAC-SHA256 key for X-Tripline-Signature; unset or empty means unsigned. */
  readonly secret?: string | undefined;
  /** Per attempt, response body included. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt (4: up to 5 attempts). */
  readonly retries?: number;
  /** First retry delay; doubles each retry, with a little jitter, capped at 8 s. */
  readonly backoffMs?: number;
  /** Detections waiting behind the one in flight. */
  readonly queueCapacity?: number;
  /** How long `close()` waits for the queue before counting the rest as dropped. */
  readonly drainTimeoutMs?: number;
  readonly userAgent?: string;
  /** For tests. A sleep that ignores the signal is still cut short by `close()`. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly fetchImpl?: typeof fetch;
}

export interface WebhookStats {
  readonly delivered: number;
  readonly failed: number;
  readonly dropped: number;
  readonly retried: number;
  /** Revisions not sent because a newer revision of the same detection replaced them in the queue. */
  readonly coalesced: number;
  /** Revisions not sent because they changed nothing a receiver pages on (see `pagingKey`). */
  readonly skipped: number;
}

/** Open detections whose last sent revision is remembered; past this the oldest is forgotten (its next revision is sent). */
const TRACKED_DETECTIONS = 65_536;

/**
 * What a receiver pages on: the importance, the subject (scope, pid, start, executable and
 * command line; not its exit, which the close reports) and whether the configuration was
 * changed. A revision that changes none of these is not sent.
 */
export function pagingKey(d: Detection): string {
  const p = d.subject.process;
  return JSON.stringify([d.recipe.importance, d.subject.scope, p.pid, p.start, p.exe, p.argv, d.evidence.configurationChanged]);
}

/** The longest wait between attempts, backoff or Retry-After alike. */
export const MAX_RETRY_DELAY_MS = 8000;

const DEFAULTS = { timeoutMs: 5000, retries: 4, backoffMs: 500, queueCapacity: 1000, drainTimeoutMs: 15_000 };
const SIGNATURE_PREFIX = 'sha256=';

/** The X-Tripline-Signature value for a body: `sha256=` and the hex HMAC-SHA256 of its exact bytes. */
export function signatureOf(secret: string, body: string | Uint8Array): string {
  return SIGNATURE_PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/** For receivers: whether a signature header matches the raw body, compared in constant time. */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | null | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signatureOf(secret, body), 'utf8');
  const given = Buffer.from(header.trim(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The URL as it may be shown: a password becomes `***` (`https://user:***@host`); a user name
 * without a password is often a token, so it becomes `***` too.
 */
export function redactUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  else if (shown.username !== '') shown.username = '***';
  // Webhook URLs often carry their secret in the path or query (Slack, Teams): show neither.
  if (shown.search !== '') shown.search = '?***';
  if (shown.pathname.length > 1) shown.pathname = '/***';
  return shown.href;
}

type AttemptOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'fail'; readonly reason: string };

interface Target {
  /** Without credentials: fetch refuses URLs that carry them. */
  readonly url: string;
  readonly shown: string;
  readonly authorization: string | undefined;
  /** Texts no message may show: the password, as written and decoded. */
  readonly hidden: readonly string[];
}

export class WebhookOutput implements DetectionOutput {
  readonly name: string;
  private readonly target: Target;
  private readonly secret: string | undefined;
  private readonly settings: typeof DEFAULTS & { readonly userAgent: string };
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly fetchImpl: typeof fetch;
  private readonly counts = { delivered: 0, failed: 0, dropped: 0, retried: 0, coalesced: 0, skipped: 0 };
  /** Per open detection, the paging key of the last revision queued. */
  private readonly sent = new Map<string, string>();
  private lastFailure: string | undefined;
  /**
   * Bounded. When full, the NEWEST detection is dropped (and counted): what is already queued
   * keeps its order and the receiver sees an attack's first detections, which tell the most;
   * the drop count in the summary says that more happened.
   */
  private readonly queue: Detection[] = [];
  private current: Detection | undefined;
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private accepting = true;
  private closing: Promise<void> | undefined;
  /** Aborted when `close()` gives up waiting: cuts the attempt or pause in progress. */
  private readonly stop = new AbortController();
  private readonly stopped: Promise<void>;

  constructor(options: WebhookOptions) {
    this.target = parseTarget(options.url);
    this.name = `webhook ${this.target.shown}`;
    this.secret = options.secret === '' ? undefined : options.secret;
    this.settings = {
      timeoutMs: positive('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs),
      retries: count('retries', options.retries ?? DEFAULTS.retries),
      backoffMs: nonNegative('backoffMs', options.backoffMs ?? DEFAULTS.backoffMs),
      queueCapacity: positiveInteger('queueCapacity', options.queueCapacity ?? DEFAULTS.queueCapacity),
      drainTimeoutMs: nonNegative('drainTimeoutMs', options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs),
      userAgent: options.userAgent ?? 'tripline-webhook',
    };
    this.sleep = options.sleep ?? abortableSleep;
    this.fetchImpl = options.fetchImpl ?? fetch;
    // Node loads its HTTP client (undici) on the first fetch: about 0.4 s on a busy machine, which
    // the first detection's delivery would otherwise pay. A data: URL loads it without a request.
    if (options.fetchImpl === undefined) void fetch('data:,').then((r) => r.body?.cancel(), () => undefined);
    this.stopped = new Promise((resolve) => {
      this.stop.signal.addEventListener('abort', () => { resolve(); }, { once: true });
    });
  }

  get stats(): WebhookStats {
    return { ...this.counts };
  }

  /** Sent at once: the receiver learns of the detection the moment it is made. */
  opened(detection: Detection): void {
    if (this.enqueue(detection)) this.remember(detection);
  }

  /** Sent only when it changes what a receiver pages on; otherwise the close brings the evidence. */
  updated(detection: Detection): void {
    if (this.sent.get(detection.id) === pagingKey(detection)) {
      this.counts.skipped++;
      return;
    }
    if (this.enqueue(detection)) this.remember(detection);
  }

  /** The final revision, always sent. */
  closed(detection: Detection): void {
    this.sent.delete(detection.id);
    this.enqueue(detection);
  }

  /** What a receiver was (or will be) told of a detection; only a revision actually queued counts, so one dropped is offered again at its next change. */
  private remember(detection: Detection): void {
    this.sent.delete(detection.id);
    this.sent.set(detection.id, pagingKey(detection));
    if (this.sent.size > TRACKED_DETECTIONS) {
      const oldest = this.sent.keys().next();
      if (oldest.done !== true) this.sent.delete(oldest.value);
    }
  }

  /** Queues a revision; false when it was dropped (closing, or the queue full). */
  private enqueue(detection: Detection): boolean {
    if (!this.accepting) {
      this.counts.dropped++;
      return false;
    }
    // A revision still waiting is replaced by the newer one, in its place: it says everything the older did.
    const waiting = this.queue.findIndex((d) => d.id === detection.id);
    if (waiting >= 0) {
      this.queue[waiting] = detection;
      this.counts.coalesced++;
      return true;
    }
    if (this.queue.length >= this.settings.queueCapacity) {
      this.counts.dropped++;
      return false;
    }
    this.queue.push(detection);
    if (!this.running) {
      this.running = true;
      this.idle = this.run();
    }
    return true;
  }

  /** Stops accepting, waits up to drainTimeoutMs for the queue, counts the rest as dropped. */
  close(): Promise<void> {
    this.accepting = false;
    this.closing ??= this.drain();
    return this.closing;
  }

  /** One line when something was not delivered (the CLI prints it); never holds the secret. */
  summary(): string | undefined {
    const { delivered, failed, dropped } = this.counts;
    if (failed === 0 && dropped === 0) return undefined;
    const why = failed > 0 && this.lastFailure !== undefined ? ` (${this.lastFailure})` : '';
    return `${this.name}: ${delivered} delivered, ${failed} failed${why}, ${dropped} dropped`;
  }

  private async drain(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.settings.drainTimeoutMs); });
    await Promise.race([this.idle, deadline]);
    clearTimeout(timer);
    this.abandon();
  }

  /** Whatever is still queued or in flight is dropped; the loop notices `stop` and ends. */
  private abandon(): void {
    this.counts.dropped += this.queue.length + (this.current === undefined ? 0 : 1);
    this.queue.length = 0;
    this.current = undefined;
    this.stop.abort();
  }

  /** The single delivery loop. `running` is cleared with no await after the last empty check. */
  private async run(): Promise<void> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next === undefined || this.isStopped()) break;
        this.current = next;
        await this.deliver(next).catch(() => { this.countFailure('internal error'); });
        this.current = undefined;
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(detection: Detection): Promise<void> {
    const body = Buffer.from(JSON.stringify(detection), 'utf8');
    const headers = this.headersFor(detection, body);
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(body, headers);
      if (this.isStopped()) return;
      if (outcome.kind === 'delivered') {
        this.counts.delivered++;
        return;
      }
      if (outcome.kind === 'fail' || attempt >= this.settings.retries) {
        this.countFailure(outcome.reason);
        return;
      }
      this.counts.retried++;
      await this.pause(outcome.retryAfterMs ?? this.backoff(attempt));
      if (this.isStopped()) return;
    }
  }

  /** A method, not a property: it changes across awaits. */
  private isStopped(): boolean {
    return this.stop.signal.aborted;
  }

  private countFailure(reason: string): void {
    this.counts.failed++;
    this.lastFailure = reason;
  }

  private headersFor(detection: Detection, body: Uint8Array): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': this.settings.userAgent,
      'X-Tripline-Event': 'detection',
      // One per revision (the same on every retry of it), so a receiver can drop duplicates.
      'X-Tripline-Delivery': `${detection.id}.${String(detection.revision)}`,
      'X-Tripline-Detection': detection.id,
      'X-Tripline-Revision': String(detection.revision),
      'X-Tripline-State': detection.state,
    };
    if (this.secret !== undefined) headers['X-Tripline-Signature'] = signatureOf(this.secret, body);
    if (this.target.authorization !== undefined) headers.Authorization = this.target.authorization;
    return headers;
  }

  /** One POST. Redirects are not followed: they would turn the POST into a GET, or carry the signature elsewhere. */
  private async attempt(body: Uint8Array, headers: Record<string, string>): Promise<AttemptOutcome> {
    // The timeout or close(), whichever comes first (by hand: AbortSignal.any needs Node 20.3).
    const controller = new AbortController();
    const timer = setTimeout(() => { controller.abort(new DOMException('The operation timed out', 'TimeoutError')); }, this.settings.timeoutMs);
    const onStop = (): void => { controller.abort(this.stop.signal.reason); };
    if (this.stop.signal.aborted) onStop();
    else this.stop.signal.addEventListener('abort', onStop, { once: true });
    try {
      const response = await this.fetchImpl(this.target.url, { method: 'POST', headers, body, signal: controller.signal, redirect: 'manual' });
      await response.body?.cancel().catch(() => undefined);
      return classifyResponse(response);
    } catch (error) {
      return { kind: 'retry', reason: this.scrub(describeError(error, this.settings.timeoutMs)) };
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  private backoff(retry: number): number {
    const base = this.settings.backoffMs * 2 ** retry;
    const jitter = 0.9 + Math.random() * 0.2;
    return Math.min(MAX_RETRY_DELAY_MS, Math.round(base * jitter));
  }

  private async pause(ms: number): Promise<void> {
    await Promise.race([this.sleep(ms, this.stop.signal), this.stopped]);
  }

  /** Error text never shows the secret nor the URL's credentials. */
  private scrub(text: string): string {
    let out = text;
    for (const hidden of [this.secret, this.target.authorization, ...this.target.hidden]) {
      if (hidden !== undefined && hidden !== '') out = out.split(hidden).join('***');
    }
    return out;
  }
}

function parseTarget(raw: string): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('webhook URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`webhook URL must be http or https: ${redactUrl(url)}`);
  }
  const shown = redactUrl(url);
  if (url.username === '' && url.password === '') return { url: url.href, shown, authorization: undefined, hidden: [] };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  // A user name alone is shown as *** (often a token), so it is hidden from messages too.
  const hidden = password === '' ? [url.username, user] : [url.password, password];
  url.username = '';
  url.password = '';
  return { url: url.href, shown, authorization, hidden };
}

function classifyResponse(response: Response): AttemptOutcome {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = `HTTP ${status}`;
  if (status !== 429 && status < 500) return { kind: 'fail', reason };
  const retryAfterMs = retryAfter(response.headers.get('retry-after'));
  return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
}

/** A numeric Retry-After (seconds), capped; an HTTP date or anything else falls back to backoff. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return undefined;
  return Math.min(MAX_RETRY_DELAY_MS, Number(header.trim()) * 1000);
}

function describeError(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return 'request failed';
  if (error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return typeof code === 'string' ? code : cause.message;
  }
  return error.message;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`webhook ${name} must be a positive number, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`webhook ${name} must be a number >= 0, got ${value}`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`webhook ${name} must be a whole number > 0, got ${value}`);
  return value;
}

function count(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`webhook ${name} must be a whole number >= 0, got ${value}`);
  return value;
}
