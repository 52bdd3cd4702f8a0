// The NATS JetStream output of `run` and `watch`: sends every revision the detection store
// recorded on this host, from the store's outbox for this server and stream, to
// `tripline.detections.<host>`, with the message id `<id>:<revision>` (JetStream drops a
// re-sent one inside its duplicate window). A revision leaves the outbox only once JetStream
// acknowledged it: one that is not sent (server down, network cut, process killed) is sent on
// reconnect, or by the next run or watch with the same store. Reference: docs/fleet.md.

import { hostname } from 'node:os';
import { jetstream, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConfig } from '../config/nats-config.ts';
import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import type { DetectionStore, SinkOutbox, StoredRevision } from '../store/detection-store.ts';
import { openDetectionStore } from '../store/sqlite-detection-store.ts';
import { connectionOptions, ensureStream, hostSubject, isStreamMissing, natsErrorText, natsSinkName } from './nats-connection.ts';

/** Revisions published at once (in seq order, acknowledged together). */
const BATCH = 128;
/** How long a publish waits for JetStream's acknowledgement. */
const PUBLISH_TIMEOUT_MS = 5_000;
/**
 * JetStream API errors of a publish that no resend can cure, for this message alone: larger
 * than the stream's max_msg_size (10054), headers larger than its limit (10097).
 */
const REFUSED_FOR_GOOD = new Set([10054, 10097]);

/** A publish that finds no stream (deleted, wiped) makes it again, at most this often. */
const ENSURE_STREAM_EVERY_MS = 5_000;

/** The outbox is looked at this often even when no output call woke the sender (another process's revisions, a retried store write). */
const POLL_MS = 1_000;

export interface NatsOutputOptions {
  readonly config: NatsConfig;
  /** The store the session records into (this output opens nothing: it reads the outbox through this handle). */
  readonly store: DetectionStore;
  /** "tripline run on web-1": the connection's name on the server's monitoring pages. */
  readonly clientName: string;
  readonly env: NodeJS.ProcessEnv;
  /** Told each change worth a warning (not connected, reconnected, a stream that could not be made), escaped. */
  readonly warn: (message: string) => void;
  /** How long close() waits for what is waiting to be acknowledged (default: config.drainTimeoutMs). */
  readonly drainTimeoutMs?: number;
  /** close() closes the store too (a handle opened for this output alone). */
  readonly ownsStore?: boolean;
}

/** What the output did, for the stop summary and the tests. */
export interface NatsOutputCounts {
  /** Revisions JetStream stored. */
  published: number;
  /** Revisions JetStream had already (a re-send after a lost acknowledgement). */
  duplicates: number;
  /** Publish attempts that failed (then retried). */
  failures: number;
  /** Revisions refused for good (larger than the server's max payload or the stream's max message size): acknowledged in the outbox, never sent. */
  refused: number;
}

export class NatsOutput implements DetectionOutput {
  readonly name: string;
  readonly sink: string;
  readonly counts: NatsOutputCounts = { published: 0, duplicates: 0, failures: 0, refused: 0 };
  private readonly outbox: SinkOutbox;
  private readonly options: NatsOutputOptions;
  private readonly subjectOfHost = new Map<string, string>();
  private nc: NatsConnection | undefined;
  private connecting: Promise<NatsConnection> | undefined;
  private js: JetStreamClient | undefined;
  private wakeUp: (() => void) | undefined;
  private kicked = false;
  private closing = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** The server's disconnect was said (cleared by the reconnect, which is said too). */
  private disconnectedWarned = false;
  /** A failure to connect or publish was said (cleared, and "sending again" said, once a batch goes through). */
  private failingWarned = false;
  private readonly connectOptions: NodeConnectionOptions;
  private lastEnsureStreamMs = 0;
  private stopNow: () => void = () => undefined;
  private readonly stopSignal = new Promise<undefined>((resolve) => { this.stopNow = () => { resolve(undefined); }; });

  /**
   * Reads the credential and TLS files (throws NatsSetupError naming a file that cannot be
   * used), registers the outbox (revisions recorded from now on are sent) and starts sending in
   * the background.
   */
  constructor(options: NatsOutputOptions) {
    this.options = options;
    this.connectOptions = connectionOptions(options.config, options.clientName, options.env);
    this.sink = natsSinkName(options.config);
    this.name = `nats ${options.config.url}`;
    this.outbox = options.store.outbox(this.sink);
    this.loop = this.run();
  }

  opened(): void {
    this.kick();
  }

  updated(): void {
    this.kick();
  }

  closed(): void {
    this.kick();
  }

  /** Revisions not acknowledged by JetStream yet. */
  waiting(): number {
    return this.outbox.count();
  }

  /**
   * Waits (at most the drain timeout) for the outbox to empty, then disconnects. What is still
   * waiting stays in the store; the warning says how many and who sends them.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.kick();
    const timeoutMs = this.options.drainTimeoutMs ?? this.options.config.drainTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([this.loop, deadline]);
    clearTimeout(timer);
    this.stopped = true;
    this.stopNow();
    this.kick();
    const nc = this.nc;
    this.nc = undefined;
    // An unfinished connect is abandoned: its connection is closed when it arrives.
    void this.connecting?.then((late) => late.close()).catch(() => undefined);
    if (nc !== undefined) await nc.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    let left = 0;
    try {
      left = this.outbox.count();
    } catch {
      // the store is gone (closed by its owner): nothing more to say
    }
    if (this.options.ownsStore === true) this.options.store.close();
    if (left > 0) {
      this.options.warn(`NATS ${this.options.config.url}: ${String(left)} detection revision(s) not acknowledged by JetStream within ${String(Math.round(timeoutMs / 1000))}s wait in the store ${natsErrorText(this.options.store.path)}; the next tripline run or watch with this store and server sends them`);
    }
  }

  private kick(): void {
    this.kicked = true;
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Resolves on a kick or after `ms`. */
  private async nap(ms: number): Promise<void> {
    if (this.kicked || this.stopped) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      timer = setTimeout(resolve, ms);
      timer.unref();
    });
    clearTimeout(timer);
    this.wakeUp = undefined;
  }

  private async connection(): Promise<JetStreamClient | undefined> {
    // A connection closed for good (nats.js gives up after two authentication errors in a row while reconnecting, a rotated token) is made anew.
    if (this.nc?.isClosed() === true) this.forget(this.nc);
    if (this.js !== undefined) return this.js;
    this.connecting ??= connect(this.connectOptions);
    let nc: NatsConnection | undefined;
    try {
      // A server that is not up yet is tried again (run's loop) until close() gives up.
      nc = await Promise.race([this.connecting, this.stopSignal]);
    } catch (error) {
      this.connecting = undefined;
      throw error;
    }
    if (nc === undefined) return undefined;
    if (this.stopped) {
      await nc.close().catch(() => undefined);
      return undefined;
    }
    this.nc = nc;
    this.watchStatus(nc);
    void nc.closed().then((error) => {
      if (this.nc !== nc || this.stopped) return;
      this.forget(nc);
      if (!this.closing) this.options.warn(`NATS ${this.options.config.url}: connection closed${error === undefined ? '' : ` (${natsErrorText(error)})`}; detections wait in the store, connecting again`);
      this.failingWarned = true;
      this.kick();
    });
    try {
      await ensureStream(nc, this.options.config);
    } catch (error) {
      // A publisher without the right to manage streams still publishes into one an administrator made.
      this.options.warn(`NATS ${this.options.config.url}: stream ${this.options.config.stream} could not be checked or created (${natsErrorText(error)}); publishing anyway`);
    }
    this.js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    return this.js;
  }

  /** The stream was not found by a publish (an administrator deleted it, the server's storage was wiped): made again (rate-limited), and said. */
  private async ensureStreamAgain(): Promise<void> {
    const nc = this.nc;
    if (nc === undefined || Date.now() - this.lastEnsureStreamMs < ENSURE_STREAM_EVERY_MS) return;
    this.lastEnsureStreamMs = Date.now();
    const { url, stream } = this.options.config;
    try {
      await ensureStream(nc, this.options.config, () => { this.options.warn(`NATS ${url}: stream ${stream} was missing (deleted, or the server's storage wiped); created it again`); });
    } catch (error) {
      this.options.warn(`NATS ${url}: stream ${stream} not found by a publish, and it could not be checked or created (${natsErrorText(error)}); trying again`);
    }
  }

  /** Drops a closed connection: the next attempt connects anew (with the loop's backoff). */
  private forget(nc: NatsConnection): void {
    if (this.nc !== nc) return;
    this.nc = undefined;
    this.js = undefined;
    this.connecting = undefined;
  }

  private watchStatus(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' && !this.closing) {
          if (!this.disconnectedWarned) this.options.warn(`NATS ${this.options.config.url}: disconnected; detections wait in the store and are sent on reconnect`);
          this.disconnectedWarned = true;
        } else if (s.type === 'reconnect') {
          if (this.disconnectedWarned) this.options.warn(`NATS ${this.options.config.url}: reconnected; sending what waited`);
          this.disconnectedWarned = false;
          this.kick();
        }
      }
    })().catch(() => undefined);
  }

  private subjectOf(detection: Detection): string {
    // Read loosely: a revision in the store may come from an older producer.
    const named = (detection as { host?: { hostname?: unknown } }).host?.hostname;
    const host = typeof named === 'string' && named !== '' ? named : hostname();
    let subject = this.subjectOfHost.get(host);
    if (subject === undefined) {
      subject = hostSubject(host);
      if (this.subjectOfHost.size < 64) this.subjectOfHost.set(host, subject);
    }
    return subject;
  }

  /** The message: the detection as stored, with the stored revision and state (authoritative for a producer without them). */
  private static body(r: StoredRevision): string {
    return JSON.stringify({ ...r.detection, revision: r.revision, state: r.state });
  }

  /** A publish error that sending again cannot cure: the client's max_payload, or a JetStream API error about this message alone. */
  private static refusedForGood(error: unknown): boolean {
    if (error instanceof JetStreamApiError) return REFUSED_FOR_GOOD.has(error.code);
    return error instanceof Error && /max.?payload|payload.*(too large|exceeded)/i.test(error.message);
  }

  /** Read through a call: close() sets it while run() awaits (a plain read there looks constant to the type checker). */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopped) {
      this.kicked = false;
      let batch: readonly StoredRevision[];
      try {
        batch = this.outbox.pending(BATCH);
      } catch (error) {
        if (this.isStopped()) return;
        this.options.warn(`NATS ${this.options.config.url}: the store's outbox cannot be read: ${natsErrorText(error)}`);
        await this.nap(5_000);
        continue;
      }
      if (batch.length === 0) {
        if (this.closing) return;
        await this.nap(POLL_MS);
        continue;
      }
      const js = await this.connection().catch((error: unknown) => {
        if (!this.failingWarned && !this.disconnectedWarned && !this.closing) this.options.warn(`NATS ${this.options.config.url}: cannot connect (${natsErrorText(error)}); detections wait in the store, trying again`);
        this.failingWarned = true;
        return undefined;
      });
      if (js === undefined) {
        if (this.isStopped()) return;
        await this.nap(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      // Sent in seq order on one connection, acknowledged as the acks come.
      const results = await Promise.allSettled(batch.map((r) =>
        js.publish(this.subjectOf(r.detection), NatsOutput.body(r), { msgID: `${r.id}:${String(r.revision)}`, timeout: PUBLISH_TIMEOUT_MS })));
      const acked: number[] = [];
      let failed = 0;
      let firstError: unknown;
      results.forEach((result, i) => {
        const r = batch[i];
        if (r === undefined) return;
        if (result.status === 'fulfilled') {
          acked.push(r.seq);
          if (result.value.duplicate) this.counts.duplicates++;
          else this.counts.published++;
        } else if (NatsOutput.refusedForGood(result.reason)) {
          // Never accepted by this server, however often it is sent: counted and said, not kept forever.
          acked.push(r.seq);
          this.counts.refused++;
          this.options.warn(`NATS ${this.options.config.url}: revision ${String(r.revision)} of detection ${natsErrorText(r.id)} refused: ${natsErrorText(result.reason)}`);
        } else {
          failed++;
          firstError ??= result.reason;
        }
      });
      if (acked.length > 0) {
        try {
          this.outbox.acknowledge(acked);
        } catch (error) {
          if (this.isStopped()) return;
          // Sent again later: JetStream drops the copy (message id), the collector too (id, revision).
          this.options.warn(`NATS ${this.options.config.url}: acknowledgements not recorded in the store: ${natsErrorText(error)}`);
        }
      }
      if (failed > 0) {
        this.counts.failures += failed;
        if (this.isStopped()) return;
        if (results.some((r) => r.status === 'rejected' && isStreamMissing(r.reason))) await this.ensureStreamAgain();
        if (!this.failingWarned && !this.disconnectedWarned && !this.closing) {
          this.options.warn(`NATS ${this.options.config.url}: ${String(failed)} revision(s) not acknowledged (${natsErrorText(firstError)}); they wait in the store and are sent again`);
          this.failingWarned = true;
        }
        await this.nap(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      } else {
        backoffMs = 250;
        if (this.failingWarned) {
          this.failingWarned = false;
          this.options.warn(`NATS ${this.options.config.url}: sending again (${String(acked.length)} revision(s) acknowledged)`);
        }
      }
    }
  }
}

/**
 * The output of a `run` or `watch` session: its own handle on the session's store file (the
 * session's handle is the session's to close), closed with the output. Throws when there is no
 * store: the outbox is what keeps a revision until the server has it.
 */
export function openSessionNatsOutput(config: NatsConfig, storePath: string | undefined, command: string, env: NodeJS.ProcessEnv,
  warn: (message: string) => void): NatsOutput {
  if (storePath === undefined) {
    throw new Error('the NATS output sends from the detection store\'s outbox (what the server has not acknowledged waits there, across restarts), and there is no store: drop --no-store (or store.enabled: false, TRIPLINE_STORE=off), or fix the store named in the warning above');
  }
  const store = openDetectionStore({ path: storePath, create: false });
  try {
    return new NatsOutput({ config, store, clientName: `tripline ${command} on ${hostname()}`, env, warn, ownsStore: true });
  } catch (error) {
    store.close();
    throw error;
  }
}
