// From strace lines to sensor events in causal order. strace may print a new child's first
// lines before its parent's fork returns (seen in 41 of 125 forks here); those lines are held
// until the fork that created the child is known, so no child is ever taken for an orphan.

import type { SensorEvent } from '../../model/sensor-event.ts';
import { mapStraceRecord } from './strace-event-mapper.ts';
import { StraceLineParser } from './strace-line-parser.ts';

export interface StraceStreamStats {
  lines: number;
  events: number;
  unparsed: number;
  /** Up to a few examples of unparsable lines with the reason, for the summary. */
  readonly unparsedSamples: { line: number; reason: string; text: string }[];
}

const FORK_CALLS = new Set(['fork', 'vfork', 'clone', 'clone3']);
const MAX_HELD = 100_000;
const MAX_SAMPLES = 5;

export class StraceEventStream {
  readonly stats: StraceStreamStats = { lines: 0, events: 0, unparsed: 0, unparsedSamples: [] };
  private readonly parser = new StraceLineParser();
  private readonly known = new Set<number>();
  /** Thread ids of each process other than the leader, so an exiting process forgets its threads too. */
  private readonly threadsOf = new Map<number, number[]>();
  private readonly groupOf = new Map<number, number>();
  private readonly held = new Map<number, SensorEvent[]>();
  private heldCount = 0;
  private rootTid: number | undefined;

  /** The first thread seen: the traced command. */
  get root(): number | undefined {
    return this.rootTid;
  }

  push(line: string): SensorEvent[] {
    this.stats.lines++;
    if (line.length === 0) return [];
    const rec = this.parser.parse(line);
    if (rec === undefined) return [];
    if (rec.type === 'unparsed') {
      this.noteUnparsed(line, rec.reason);
      return [];
    }
    const tid = rec.tid;
    this.rootTid ??= tid;
    const event = mapStraceRecord(rec);
    const out: SensorEvent[] = [];
    if (!this.known.has(tid)) {
      if (tid !== this.rootTid && this.parser.hasPending(FORK_CALLS)) {
        // A child speaking before its parent's fork returned: hold until the fork names it.
        if (event !== undefined) this.hold(tid, event, out);
        return out;
      }
      this.known.add(tid);
    }
    if (event !== undefined) this.emit(event, out);
    return out;
  }

  /** End of input: a cut last line is parsed if it can be, and held events are released. */
  end(lastPartialLine?: string): SensorEvent[] {
    const out = lastPartialLine === undefined || lastPartialLine.length === 0 ? [] : this.push(lastPartialLine);
    this.releaseAll(out);
    return out;
  }

  private emit(event: SensorEvent, out: SensorEvent[]): void {
    out.push(event);
    this.stats.events++;
    if (event.kind === 'fork') {
      this.known.add(event.childTid);
      // A reused thread id no longer belongs to the process it was a thread of.
      const oldGroup = this.groupOf.get(event.childTid);
      if (oldGroup !== undefined) {
        this.groupOf.delete(event.childTid);
        const list = this.threadsOf.get(oldGroup);
        if (list !== undefined) this.threadsOf.set(oldGroup, list.filter((t) => t !== event.childTid));
      }
      if (event.thread) {
        const group = this.groupOf.get(event.parentTid) ?? event.parentTid;
        this.groupOf.set(event.childTid, group);
        let threads = this.threadsOf.get(group);
        if (threads === undefined) {
          threads = [];
          this.threadsOf.set(group, threads);
        }
        threads.push(event.childTid);
      }
      const waiting = this.held.get(event.childTid);
      if (waiting !== undefined) {
        this.held.delete(event.childTid);
        this.heldCount -= waiting.length;
        for (const e of waiting) this.emit(e, out);
      }
    } else if (event.kind === 'exit') {
      // The whole process is gone: its leader and every thread (their ids may be reused by new processes).
      const group = this.groupOf.get(event.tid) ?? event.tid;
      for (const tid of [group, ...(this.threadsOf.get(group) ?? [])]) {
        this.known.delete(tid);
        this.groupOf.delete(tid);
        this.parser.dropThread(tid);
      }
      this.threadsOf.delete(group);
    }
  }

  private hold(tid: number, event: SensorEvent, out: SensorEvent[]): void {
    let list = this.held.get(tid);
    if (list === undefined) {
      list = [];
      this.held.set(tid, list);
    }
    list.push(event);
    if (++this.heldCount > MAX_HELD) this.releaseAll(out);
  }

  private releaseAll(out: SensorEvent[]): void {
    const all = [...this.held.entries()];
    this.held.clear();
    this.heldCount = 0;
    for (const [tid, events] of all) {
      this.known.add(tid);
      for (const e of events) this.emit(e, out);
    }
  }

  private noteUnparsed(line: string, reason: string): void {
    this.stats.unparsed++;
    if (this.stats.unparsedSamples.length < MAX_SAMPLES) {
      this.stats.unparsedSamples.push({ line: this.stats.lines, reason, text: line.length > 200 ? `${line.slice(0, 200)}...` : line });
    }
  }
}
