// Feeds every output from one bounded queue: the sensor's thread of work only enqueues, the
// outputs are served soon after (setImmediate). An output that throws is never turned off:
// what it could not write waits in its own bounded retry buffer, in order, and is tried again
// with backoff (the output reopened first); what that buffer or a full queue had to drop is
// counted, per output, and reported. A revision (`updated`) that a later revision of the same
// detection supersedes is the first thing a full queue or buffer gives up (counted as coalesced):
// the later one carries all it said, and the `closed` revision always comes with the final evidence.

import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';

export interface OutputEvent {
  readonly type: 'opened' | 'updated' | 'closed';
  readonly detection: Detection;
}

/** Runs `run` after `ms`; returns a cancel function. Tests pass their own to fire retries by hand. */
export type RetryScheduler = (ms: number, run: () => void) => () => void;

export interface OutputQueueOptions {
  /** Told each change worth a warning: a first failure, a full retry buffer, a recovery, a failed close. */
  readonly warn: (message: string) => void;
  /** Events waiting for the outputs (10,000). */
  readonly capacity?: number;
  /** Events kept per failing output until it works again (1,000); then the oldest go first. */
  readonly retryCapacity?: number;
  /** Delays between retries of a failing output; the last one repeats (1, 2, 5, 10, 30 s). */
  readonly backoffMs?: readonly number[];
  readonly schedule?: RetryScheduler;
}

/** What one output could not do, for the report and the stop summary. */
export interface OutputLoss {
  readonly name: string;
  /** Final detections it never wrote (dropped from a full retry buffer, or still unwritten at the end). */
  readonly detections: number;
  /** Live notices (opened revisions) it never showed or wrote. */
  readonly notices: number;
  /** Revisions (`updated`) it never wrote and no later revision it wrote superseded. */
  readonly revisions: number;
  /** Failed attempts in all (the first call and every retry). */
  readonly failedAttempts: number;
  /** Detections it wrote after a retry (late, but not lost). */
  readonly writtenLate: number;
  readonly lastError: string | undefined;
}

const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000] as const;

const defaultSchedule: RetryScheduler = (ms, run) => {
  const timer = setTimeout(run, ms);
  // A retry never keeps the process alive on its own: close() makes the last attempt.
  timer.unref();
  return () => {
    clearTimeout(timer);
  };
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function plural(n: number, what: string): string {
  return `${String(n)} ${what}${n === 1 ? '' : 's'}`;
}

/** One output and what it still owes. */
class OutputLane {
  /** Events it failed on and everything after them, oldest first. */
  readonly backlog: OutputEvent[] = [];
  /** Pending retry; undefined when the output works. */
  cancelRetry: (() => void) | undefined;
  attempt = 0;
  failedAttempts = 0;
  lostDetections = 0;
  lostNotices = 0;
  lostRevisions = 0;
  writtenLate = 0;
  /** Detections dropped or written late since the current failure began (for the recovery warning). */
  episodeLate = 0;
  overflowWarned = false;
  lastError: string | undefined;

  constructor(readonly output: DetectionOutput) {}

  get failing(): boolean {
    return this.backlog.length > 0;
  }

  wants(event: OutputEvent): boolean {
    return this.output[event.type] !== undefined;
  }

  deliver(event: OutputEvent): void {
    this.output[event.type]?.(event.detection);
  }

  loss(): OutputLoss {
    return {
      name: this.output.name, detections: this.lostDetections, notices: this.lostNotices, revisions: this.lostRevisions, failedAttempts: this.failedAttempts,
      writtenLate: this.writtenLate, lastError: this.lastError,
    };
  }
}

export class OutputQueue {
  private readonly pending: OutputEvent[] = [];
  private scheduled = false;
  private readonly lanes: OutputLane[];
  private readonly warn: (message: string) => void;
  private readonly capacity: number;
  private readonly retryCapacity: number;
  private readonly backoffMs: readonly number[];
  private readonly schedule: RetryScheduler;
  /** Set by close(): the last attempts schedule nothing more. */
  private closing = false;
  /** Events a full queue dropped (revisions first, then the oldest opened notices, then anything), superseded revisions not included. */
  dropped = 0;
  /** Revisions (`updated`) a full queue or retry buffer gave up because a later revision of the same detection followed them. */
  coalesced = 0;

  constructor(outputs: readonly DetectionOutput[], options: OutputQueueOptions) {
    this.lanes = outputs.map((o) => new OutputLane(o));
    this.warn = options.warn;
    this.capacity = options.capacity ?? 10_000;
    this.retryCapacity = Math.max(1, options.retryCapacity ?? 1_000);
    this.backoffMs = options.backoffMs ?? BACKOFF_MS;
    this.schedule = options.schedule ?? defaultSchedule;
  }

  push(event: OutputEvent): void {
    if (this.pending.length >= this.capacity) {
      // Make room: a superseded revision first (nothing is lost), then any revision (the close
      // will carry its evidence), then a live notice, before ever dropping a final detection.
      const superseded = supersededRevision(this.pending, event, 0);
      if (superseded >= 0) {
        this.pending.splice(superseded, 1);
        this.coalesced++;
      } else {
        const revision = this.pending.findIndex((e) => e.type === 'updated');
        // An incoming revision never pushes out another detection's live notice: the revision
        // is the less valuable (its detection's close carries the same evidence and more).
        const notice = revision >= 0 ? revision : event.type === 'updated' ? -1 : this.pending.findIndex((e) => e.type === 'opened');
        if (notice < 0 && event.type !== 'closed') {
          this.dropped++;
          return;
        }
        this.pending.splice(notice < 0 ? 0 : notice, 1);
        this.dropped++;
      }
    }
    this.pending.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.drain();
      });
    }
  }

  /** Serves every pending event now; a failing output's events join its retry buffer, in order. */
  drain(): void {
    this.scheduled = false;
    for (let e = this.pending.shift(); e !== undefined; e = this.pending.shift()) {
      for (const lane of this.lanes) {
        if (!lane.wants(e)) continue;
        if (lane.failing) {
          this.keep(lane, e);
          continue;
        }
        try {
          lane.deliver(e);
        } catch (error) {
          lane.backlog.push(e);
          this.failed(lane, error);
        }
      }
    }
  }

  /**
   * Log rotation (SIGHUP): every output that can reopens its file; a failing one is retried
   * at once instead of at the end of its backoff.
   */
  reopen(): void {
    for (const lane of this.lanes) {
      if (lane.failing) {
        lane.cancelRetry?.();
        lane.cancelRetry = undefined;
        this.retry(lane);
        continue;
      }
      try {
        lane.output.reopen?.();
      } catch (error) {
        // Nothing is owed yet: the next write will fail and start the retries.
        lane.lastError = messageOf(error);
        this.warn(`output ${lane.output.name} could not be reopened: ${lane.lastError}`);
      }
    }
  }

  /** Per output, what it could not do (only outputs that failed at least once). */
  losses(): OutputLoss[] {
    return this.lanes.filter((l) => l.failedAttempts > 0).map((l) => l.loss());
  }

  /**
   * Serves what is pending, gives every failing output one last try, counts what is still
   * unwritten as lost, then closes every output (waiting for those that send over the network).
   */
  async close(): Promise<void> {
    this.closing = true;
    this.drain();
    for (const lane of this.lanes) {
      if (!lane.failing) continue;
      lane.cancelRetry?.();
      lane.cancelRetry = undefined;
      this.attemptBacklog(lane);
      // What the last attempt could not write is lost.
      for (const e of lane.backlog) this.countLost(lane, e);
      lane.backlog.length = 0;
    }
    for (const lane of this.lanes) {
      try {
        await lane.output.close?.();
      } catch (error) {
        lane.failedAttempts++;
        lane.lastError = messageOf(error);
        this.warn(`output ${lane.output.name} failed while closing: ${lane.lastError}`);
      }
    }
  }

  /** An event for an output that is failing: kept behind the others, the buffer bounded. */
  private keep(lane: OutputLane, event: OutputEvent): void {
    if (lane.backlog.length >= this.retryCapacity) {
      // Never the head: it is the one being retried, and the output may have written part of it.
      const superseded = supersededRevision(lane.backlog, event, 1);
      if (superseded > 0) {
        lane.backlog.splice(superseded, 1);
        this.coalesced++;
        lane.backlog.push(event);
        return;
      }
      const revision = lane.backlog.findIndex((e, i) => i > 0 && e.type === 'updated');
      const notice = revision > 0 ? revision : event.type === 'updated' ? -1 : lane.backlog.findIndex((e, i) => i > 0 && e.type === 'opened');
      if (notice <= 0 && event.type !== 'closed') {
        // Nothing less valuable than the incoming event is kept: it is the one given up (a
        // final detection is never dropped to keep a notice or a revision).
        this.countLost(lane, event);
        this.warnOverflow(lane);
        return;
      }
      const victim = notice > 0 ? notice : Math.min(1, lane.backlog.length - 1);
      const [gone] = lane.backlog.splice(victim, 1);
      if (gone !== undefined) this.countLost(lane, gone);
      this.warnOverflow(lane);
    }
    lane.backlog.push(event);
  }

  private warnOverflow(lane: OutputLane): void {
    if (lane.overflowWarned) return;
    lane.overflowWarned = true;
    this.warn(`output ${lane.output.name}: its retry buffer is full (${String(this.retryCapacity)} events); revisions and notices go first, then the oldest detections, each counted`);
  }

  private countLost(lane: OutputLane, event: OutputEvent): void {
    if (event.type === 'closed') lane.lostDetections++;
    else if (event.type === 'updated') lane.lostRevisions++;
    else lane.lostNotices++;
  }

  /** The output threw: start (or continue) its retries with the next delay. */
  private failed(lane: OutputLane, error: unknown): void {
    lane.failedAttempts++;
    lane.lastError = messageOf(error);
    const delay = this.backoffMs[Math.min(lane.attempt, this.backoffMs.length - 1)] ?? 30_000;
    if (lane.attempt === 0) {
      lane.episodeLate = 0;
      lane.overflowWarned = false;
      this.warn(this.closing
        ? `output ${lane.output.name} failed: ${lane.lastError}`
        : `output ${lane.output.name} failed: ${lane.lastError}; what it could not write is kept (up to ${String(this.retryCapacity)} events) and retried in ${formatDelay(delay)}`);
    }
    lane.attempt++;
    if (this.closing) return;
    lane.cancelRetry = this.schedule(delay, () => {
      lane.cancelRetry = undefined;
      this.retry(lane);
    });
  }

  private retry(lane: OutputLane): void {
    this.attemptBacklog(lane);
    if (lane.failing) return;
    this.warn(`output ${lane.output.name} works again after ${plural(lane.attempt, 'failed attempt')}: ${plural(lane.episodeLate, 'detection')} written late`);
    lane.attempt = 0;
  }

  /** Reopens the output and writes its backlog in order; on a failure, schedules the next try. */
  private attemptBacklog(lane: OutputLane): void {
    try {
      lane.output.reopen?.();
      for (let e = lane.backlog[0]; e !== undefined; e = lane.backlog[0]) {
        lane.deliver(e);
        lane.backlog.shift();
        if (e.type === 'closed') {
          lane.writtenLate++;
          lane.episodeLate++;
        }
      }
    } catch (error) {
      this.failed(lane, error);
    }
  }
}

/**
 * The oldest `updated` event at or after `from` that a later event of the same detection in
 * `events`, or `incoming`, supersedes; -1 when there is none. One pass from the end.
 */
function supersededRevision(events: readonly OutputEvent[], incoming: OutputEvent, from: number): number {
  const later = new Set<string>([incoming.detection.id]);
  let found = -1;
  for (let i = events.length - 1; i >= from; i--) {
    const e = events[i];
    if (e === undefined) continue;
    if (e.type === 'updated' && later.has(e.detection.id)) found = i;
    later.add(e.detection.id);
  }
  return found;
}

function formatDelay(ms: number): string {
  return ms % 1000 === 0 ? `${String(ms / 1000)} s` : `${String(ms)} ms`;
}
