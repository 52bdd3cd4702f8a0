// The collector of `tripline serve --from nats://…`: a durable pull consumer on the fleet
// stream, committing what arrives into the detection store in batches (one transaction each,
// origin = the message's subject) and acknowledging each message only after its batch is
// committed. A message delivered again (the collector died between commit and ack, an ack was
// lost) is a duplicate (id, revision) for the store and is acknowledged; one that is not a
// detection revision is terminated and counted. Reference: docs/fleet.md.

import { AckPolicy, DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConfig } from '../config/nats-config.ts';
import { visible } from '../model/visible.ts';
import type { DetectionRevisionInput, DetectionStore } from '../store/detection-store.ts';
import { decodeDetectionMessage } from './detection-message.ts';
import { connectionOptions, ensureStream, natsErrorText, SUBJECT_PREFIX } from './nats-connection.ts';

export const DEFAULT_CONSUMER = 'tripline-serve';
/** At most this many messages, or bytes, per commit. */
const MAX_BATCH = 500;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * How long the first message of a batch waits for others: one commit (one fsync) then serves
 * many messages, where committing each as it came would bound a collector on a disk that takes
 * 10 ms per fsync at 100 messages a second (a detection of many files is tens of kB, one per read).
 */
const LINGER_MS = 5;
/** Messages the server may have delivered and not seen acknowledged. */
const MAX_ACK_PENDING = 10_000;
/** A message delivered to a collector that died unacknowledged is delivered again after this. */
const ACK_WAIT_MS = 10_000;
/** When the store cannot commit: the batch comes back this much later. */
const STORE_RETRY_MS = 5_000;
/** Malformed messages said one by one; the rest only counted. */
const MALFORMED_SAID = 10;

export interface CollectorOptions {
  readonly config: NatsConfig;
  /** The durable consumer's name. */
  readonly consumer: string;
  readonly store: DetectionStore;
  readonly clientName: string;
  readonly env: NodeJS.ProcessEnv;
  /** One line per event worth saying (connected, a malformed message, a store failure), escaped. */
  readonly log: (line: string) => void;
}

export interface CollectorCounts {
  /** Messages received (a redelivery counts again). */
  received: number;
  /** Revisions committed new. */
  recorded: number;
  /** Revisions the store had already (a redelivery, a publisher's re-send past the duplicate window). */
  duplicates: number;
  /** Revisions of an id the store holds for another host: not recorded (acknowledged, said). */
  conflicts: number;
  /** Messages that were not detection revisions: terminated. */
  malformed: number;
  /** Commits (transactions). */
  batches: number;
  /** Batches the store could not commit: handed back to the server for a later delivery. */
  storeFailures: number;
}

export class NatsCollector {
  readonly counts: CollectorCounts = { received: 0, recorded: 0, duplicates: 0, conflicts: 0, malformed: 0, batches: 0, storeFailures: 0 };
  private readonly options: CollectorOptions;
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private buffer: JsMsg[] = [];
  private bufferBytes = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly done: Promise<void>;
  private stopNow: () => void = () => undefined;
  private readonly stopSignal = new Promise<undefined>((resolve) => { this.stopNow = () => { resolve(undefined); }; });
  private connecting: Promise<NatsConnection>;
  private readonly connectOptions: NodeConnectionOptions;

  /** Reads the credential files (throws NatsSetupError naming one that cannot be used), then connects in the background (waiting for a server not up yet). */
  constructor(options: CollectorOptions) {
    this.options = options;
    this.connectOptions = connectionOptions(options.config, options.clientName, options.env);
    this.connecting = connect(this.connectOptions);
    // A refused first attempt is handled by run(); this keeps it from counting as unhandled before.
    this.connecting.catch(() => undefined);
    this.done = this.run();
  }

  /** Resolves once the collector has stopped by itself (a setup failure) or been stopped. */
  get finished(): Promise<void> {
    return this.done;
  }

  /** Read through a call: stop() sets it while run() awaits (a plain read there looks constant to the type checker). */
  private isStopping(): boolean {
    return this.stopping;
  }

  private async run(): Promise<void> {
    const { config, consumer: name, log } = this.options;
    let nc: NatsConnection | undefined;
    for (let attempt = 0, waitMs = 500; nc === undefined && !this.isStopping(); attempt++, waitMs = Math.min(waitMs * 2, 10_000)) {
      nc = await Promise.race([this.connecting, this.stopSignal]).catch((error: unknown) => {
        if (attempt === 0) log(`NATS ${config.url}: cannot connect (${natsErrorText(error)}); trying again until it answers`);
        return undefined;
      });
      if (nc === undefined && !this.isStopping()) {
        await Promise.race([new Promise<void>((resolve) => setTimeout(resolve, waitMs)), this.stopSignal]);
        if (!this.isStopping()) this.connecting = connect(this.connectOptions);
      }
    }
    if (nc === undefined) return;
    this.nc = nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' && !this.isStopping()) log(`NATS ${config.url}: disconnected; waiting for the server`);
        else if (s.type === 'reconnect') log(`NATS ${config.url}: reconnected`);
      }
    })().catch(() => undefined);
    let backoffMs = 500;
    while (!this.isStopping()) {
      try {
        const jsm = await ensureStream(nc, config, () => { log(`NATS ${config.url}: stream ${config.stream} was missing; created it`); });
        try {
          await jsm.consumers.info(config.stream, name);
        } catch {
          await jsm.consumers.add(config.stream, {
            durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
            ack_wait: ACK_WAIT_MS * 1_000_000, max_ack_pending: MAX_ACK_PENDING, filter_subject: `${SUBJECT_PREFIX}.>`,
          });
        }
        const consumer = await jetstream(nc).consumers.get(config.stream, name);
        // A consumer or stream deleted under it ends the loop into the retry below, which makes both again (the client would wait for ever).
        const messages = await consumer.consume({ max_messages: 1_000, abort_on_missing_resource: true });
        this.messages = messages;
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
              messages.stop(new Error(s.type === 'consumer_deleted' ? `consumer deleted (${s.description})` : s.type.replace(/_/g, ' ')));
              break;
            }
          }
        })().catch(() => undefined);
        if (this.isStopping()) messages.stop();
        log(`collecting from NATS ${config.url} (stream ${config.stream}, durable consumer ${name})`);
        backoffMs = 500;
        for await (const m of messages) {
          this.buffer.push(m);
          this.bufferBytes += m.data.length;
          if (this.buffer.length >= MAX_BATCH || this.bufferBytes >= MAX_BATCH_BYTES) this.commit();
          else this.commitTimer ??= setTimeout(() => { this.commit(); }, LINGER_MS);
        }
      } catch (error) {
        if (this.isStopping()) break;
        log(`NATS ${config.url}: consuming stream ${config.stream} failed (${natsErrorText(error)}); trying again in ${String(backoffMs / 1000)}s`);
      }
      this.commit();
      if (this.isStopping()) break;
      await Promise.race([new Promise<void>((resolve) => setTimeout(resolve, backoffMs)), this.stopSignal]);
      backoffMs = Math.min(backoffMs * 2, 10_000);
    }
    this.commit();
  }

  /** Commits what is buffered in one transaction, then acknowledges it; terminates what is not a detection revision. */
  private commit(): void {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const batch = this.buffer;
    if (batch.length === 0) return;
    this.buffer = [];
    this.bufferBytes = 0;
    this.counts.received += batch.length;
    const inputs: DetectionRevisionInput[] = [];
    const accepted: JsMsg[] = [];
    for (const m of batch) {
      const decoded = decodeDetectionMessage(m.data, m.subject);
      if ('problem' in decoded) {
        this.counts.malformed++;
        if (this.counts.malformed <= MALFORMED_SAID) {
          this.options.log(`NATS: message ${String(m.seq)} on ${visible(m.subject)} terminated: ${visible(decoded.problem)}${this.counts.malformed === MALFORMED_SAID ? ' (further ones are only counted)' : ''}`);
        }
        m.term(decoded.problem.slice(0, 200));
        continue;
      }
      inputs.push(decoded.input);
      accepted.push(m);
    }
    if (inputs.length === 0) return;
    let outcomes;
    try {
      outcomes = this.options.store.recordBatch(inputs);
    } catch (error) {
      // The store, not the messages (they were checked): they come back later.
      this.counts.storeFailures++;
      this.options.log(`the detection store could not commit ${String(inputs.length)} received revision(s) (${natsErrorText(error)}); the server delivers them again in ${String(STORE_RETRY_MS / 1000)}s`);
      for (const m of accepted) m.nak(STORE_RETRY_MS);
      return;
    }
    this.counts.batches++;
    outcomes.forEach((o, i) => {
      if (o.kind === 'duplicate') this.counts.duplicates++;
      else if (o.kind === 'conflict') {
        this.counts.conflicts++;
        if (this.counts.conflicts <= MALFORMED_SAID) {
          const m = accepted[i];
          this.options.log(`NATS: message ${String(m?.seq ?? '?')} on ${visible(m?.subject ?? '')} not stored: its detection id is stored for host ${visible(o.storedHost)}${this.counts.conflicts === MALFORMED_SAID ? ' (further ones are only counted)' : ''}`);
        }
      } else this.counts.recorded++;
    });
    for (const m of accepted) m.ack();
  }

  /** Stops consuming, commits and acknowledges what was received, and disconnects (the acks are flushed first). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopNow();
    this.messages?.stop();
    await this.done.catch(() => undefined);
    this.commit();
    const nc = this.nc;
    if (nc !== undefined) {
      await nc.flush().catch(() => undefined);
      await nc.close().catch(() => undefined);
    } else {
      void this.connecting.then((late) => late.close()).catch(() => undefined);
    }
  }
}
