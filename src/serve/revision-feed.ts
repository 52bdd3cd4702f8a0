// Server-sent events of new detection revisions (/api/events). One poller follows the store's
// change stream (`changesSince`: `run` and `watch` write from other processes) while at least
// one page listens, and writes each revision to every listener; a heartbeat comment keeps
// proxies from closing an idle stream. Listeners are bounded, and one that does not read
// (its buffer grows past a limit) is dropped rather than held in memory.

import type { ServerResponse } from 'node:http';
import type { DetectionStore } from '../store/detection-store.ts';
import type { RevisionEvent } from './dashboard-api-types.ts';
import { summarize } from './dashboard-api.ts';

export interface RevisionFeedOptions {
  /** How often the store is polled while someone listens (ms). */
  readonly pollMs: number;
  /** How often an idle stream gets a comment line (ms). */
  readonly heartbeatMs: number;
  /** Most listeners at once; more are refused with 503. */
  readonly maxClients: number;
  /** Called with a line about a failed poll (the stream goes on). */
  readonly log: (line: string) => void;
}

/** Revisions read per poll, at most (a burst is spread over several polls). */
const BATCH = 200;
const BATCHES_PER_POLL = 5;
/** Bytes a listener may leave unread before it is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export class RevisionFeed {
  private readonly clients = new Set<ServerResponse>();
  private cursor = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pollFailing = false;

  constructor(private readonly store: DetectionStore, private readonly options: RevisionFeedOptions) {}

  get size(): number {
    return this.clients.size;
  }

  /** Whether another listener may join. */
  hasRoom(): boolean {
    return this.clients.size < this.options.maxClients;
  }

  /** Takes over `response` (headers already written by the caller) until the page goes away. */
  add(response: ServerResponse): void {
    if (this.clients.size === 0) this.start();
    this.clients.add(response);
    // The browser reconnects after 3 s when the stream ends; the page reloads its data on each (re)open.
    response.write('retry: 3000\n\n');
    response.on('close', () => {
      this.clients.delete(response);
      if (this.clients.size === 0) this.stop();
    });
  }

  /** Ends every stream and stops polling. */
  close(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stop();
  }

  private start(): void {
    // Only what is committed from now on: the page read the rest through the API.
    this.cursor = this.store.lastSeq();
    this.pollTimer = setInterval(() => { this.poll(); }, this.options.pollMs);
    this.heartbeatTimer = setInterval(() => { this.broadcast(': heartbeat\n\n'); }, this.options.heartbeatMs);
  }

  private stop(): void {
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    this.pollTimer = undefined;
    this.heartbeatTimer = undefined;
  }

  /** Reads what was committed since the last poll and sends it. */
  poll(): void {
    try {
      for (let i = 0; i < BATCHES_PER_POLL; i++) {
        const changes = this.store.changesSince(this.cursor, BATCH);
        for (const r of changes) {
          this.cursor = Math.max(this.cursor, r.seq);
          const event: RevisionEvent = { seq: r.seq, summary: summarize(r) };
          // JSON has no raw newline: one data line per event.
          this.broadcast(`id: ${String(r.seq)}\nevent: revision\ndata: ${JSON.stringify(event)}\n\n`);
        }
        if (changes.length < BATCH) break;
      }
      if (this.pollFailing) this.options.log('the store can be read again; live updates resume');
      this.pollFailing = false;
    } catch (error) {
      // Said once per failing spell, not once per poll.
      if (!this.pollFailing) this.options.log(`cannot read new revisions from the store: ${(error as Error).message}`);
      this.pollFailing = true;
    }
  }

  private broadcast(text: string): void {
    for (const c of this.clients) {
      if (c.writableLength > MAX_BUFFERED_BYTES) {
        // A page that stopped reading: it reconnects and reloads when it wakes up.
        this.clients.delete(c);
        c.destroy();
        continue;
      }
      c.write(text);
    }
    if (this.clients.size === 0) this.stop();
  }
}
