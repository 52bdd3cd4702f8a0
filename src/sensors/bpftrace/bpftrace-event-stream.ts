// From tripline.bt lines to sensor events: enriched from /proc the moment a line arrives (a
// short-lived process is gone soon after), put back in time order (each CPU has its own
// buffer, and a busy machine can deliver one CPU's lines seconds after another's), applied in
// causal order (a process's lines wait for the FORK line that made it), processes that
// predate the sensor introduced through their /proc ancestry, and, for `run`, everything
// outside the monitored command's process tree left out.

import { constants } from 'node:os';
import type { AccessEvent, FdRef, SensorEvent } from '../../model/sensor-event.ts';
import { openFlagsFromBits } from '../open-action.ts';
import { evidenceSyscall, isOpen, syscallAccess } from '../syscall-access.ts';
import type { ProcessFacts, ProcfsReader } from '../procfs-reader.ts';
import {
  argvFromBytes, parseBpfLine, procPathFromNames, WHY, type ArgvRecord, type BpfParseFailure, type BpfRecord, type ExecRecord, type FileRecord, type LostRecord, type ReadyRecord,
  type SyncRecord, type TickRecord,
} from './bpftrace-line-parser.ts';
import type { KernelCgroup } from '../../model/kernel-cgroup.ts';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

const AT_FDCWD = -100;
/** The program cuts strings at this many bytes (BPFTRACE_STRLEN - 1). */
export const PATH_LIMIT = 51;
const MAX_BOOTSTRAP_DEPTH = 64;
/**
 * How long a line waits for earlier lines from other CPUs, at least. 50 ms was too short on a
 * loaded 2-core machine; the hold grows with the lateness actually seen (up to MAX_HOLD_NS).
 */
const DEFAULT_HOLD_NS = 200_000_000n;
const MAX_HOLD_NS = 5_000_000_000n;
/** How long lines of a process wait for the FORK line that made it before it is introduced from what is known. */
const MAX_PARK_NS = 5_000_000_000n;
/** Lines parked at once, at most (a storm of lost FORK lines cannot grow memory without bound). */
const MAX_PARKED = 200_000;
/** Exited processes remembered, so a line that comes after its process's EXIT is still its own. */
const RECENT_EXITS = 8192;
/** Processes known at once; past it the longest known are forgotten (their EXIT line was lost, or they live long: /proc introduces them again). */
const MAX_KNOWN = 65_536;

type TimedRecord = Exclude<BpfRecord, LostRecord | ReadyRecord | ArgvRecord | SyncRecord | TickRecord> | LossRecord;

/** Events the sensor could not use ("Lost N events", or an unreadable line), placed at the newest time seen then. */
interface LossRecord {
  readonly type: 'loss';
  readonly count: number;
}

interface Pending {
  readonly ns: bigint;
  readonly record: TimedRecord;
  /** Facts read from /proc when the line arrived. */
  readonly facts?: ProcessFacts;
  /** For an exec: what the process ran when its line arrived (verifiedExecutable). */
  readonly verifiedExe?: string | null;
  readonly base?: string;
  readonly realpath?: string;
  /** argv chunks of an exec, in order. */
  readonly argv?: Buffer[];
}

export interface BpfStreamStats {
  lines: number;
  unparsed: number;
  /** Events the kernel could not hand over (bpftrace's "Lost N events"). */
  lost: number;
  /** Lines that arrived after later lines had already been applied (applied out of order). */
  late: number;
  /** Processes whose FORK line never came (lost, or later than MAX_PARK_NS): introduced from /proc or their EXEC line. */
  orphans: number;
  /** The largest lateness seen, in ms (how far one CPU's lines trailed another's). */
  maxLatenessMs: number;
  readonly unparsedSamples: { line: number; reason: string; text: string }[];
}


export interface BpfStreamOptions {
  readonly procfs: ProcfsReader;
  /** Added to the program's CLOCK_MONOTONIC ns to get Unix ns. */
  readonly offsetNs: bigint;
  /** How long a line is held for lines from other CPUs that happened earlier, at least (200 ms by default). */
  readonly holdNs?: bigint;
  /** The most the hold grows to when lines come late (5 s by default). */
  readonly maxHoldNs?: bigint;
  /** Only this process and its descendants (for `run`); undefined watches every process. */
  readonly rootPid?: number;
  /** Watch nothing until `limitTo` names the command. */
  readonly commandOnly?: boolean;
  /**
   * The kernel already keeps to the command's tree (tripline.bt's tree root): a line whose
   * FORK never came is still the command's, under its root, rather than dropped.
   */
  readonly kernelFiltered?: boolean;
  /** Told, as each EXEC or (process) FORK line arrives, the cgroup the kernel gave the process. */
  readonly cgroup?: (seen: KernelCgroup) => void;
}

/**
 * What the stream knows of a process: its start time (-1n: introduced from /proc, start
 * unknown) and the exec count of the image applied last (-1: unknown, any is taken).
 */
interface KnownProcess {
  start: bigint;
  exec: number;
}
type Known = Map<number, KnownProcess>;

export class BpfEventStream {
  readonly stats: BpfStreamStats = { lines: 0, unparsed: 0, lost: 0, late: 0, orphans: 0, maxLatenessMs: 0, unparsedSamples: [] };
  private queue: Pending[] = [];
  private readonly known: Known = new Map();
  /** Exited processes (pid → start), so their late lines are still theirs; oldest first. */
  private readonly exited = new Map<number, bigint>();
  /** Lines of processes not yet made by a FORK line, by the pid they wait for. */
  private readonly parked = new Map<number, Pending[]>();
  private parkedCount = 0;
  private monitored: Set<number> | undefined;
  private ready = false;
  private readyNs: bigint | undefined;
  private lastSyncNs: bigint | undefined;
  private maxSeenNs = 0n;
  private releasedUpTo = -1n;
  /** Lateness seen recently (ns), decaying: the hold adapts to how far behind a CPU's buffer runs. */
  private latenessNs = 0n;
  private lastLostAtNs: bigint | undefined;

  constructor(private readonly options: BpfStreamOptions) {
    this.monitored = options.rootPid === undefined ? (options.commandOnly === true ? new Set() : undefined) : new Set([options.rootPid]);
    if (options.rootPid !== undefined) this.known.set(options.rootPid, { start: -1n, exec: -1 });
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** The newest event time seen (monotonic ns), or undefined before any. */
  get newestNs(): bigint | undefined {
    return this.maxSeenNs === 0n ? undefined : this.maxSeenNs;
  }

  /** The time of the last SYNC line (tripline's own barrier), if any came. */
  get syncNs(): bigint | undefined {
    return this.lastSyncNs;
  }

  /** The hold in force: the floor, or more when lines have been arriving late. */
  get holdNs(): bigint {
    const floor = this.options.holdNs ?? DEFAULT_HOLD_NS;
    // Half again the lateness seen, and a margin for scheduling, once lines have come late at all.
    const wanted = this.latenessNs === 0n ? 0n : this.latenessNs + this.latenessNs / 2n + 50_000_000n;
    const most = this.options.maxHoldNs ?? MAX_HOLD_NS;
    return wanted < floor ? floor : wanted > most ? most : wanted;
  }

  /** Lines waiting, in the time-order queue or for their FORK line. */
  get pendingCount(): number {
    return this.queue.length + this.parkedCount;
  }

  /** From now on, only `pid` and its descendants. */
  limitTo(pid: number): void {
    this.monitored = new Set([pid]);
    if (!this.known.has(pid)) this.known.set(pid, { start: -1n, exec: -1 });
  }

  /** Processes of the monitored command not yet seen exiting (none when watching the host). */
  monitoredPids(): number[] {
    return [...(this.monitored ?? [])];
  }

  /** Keeps what the previous stream knew across a restart of bpftrace: counters and known processes. */
  carryOver(previous: BpfEventStream): void {
    for (const [pid, k] of previous.known) this.known.set(pid, { ...k });
    for (const [pid, start] of previous.exited) this.exited.set(pid, start);
    this.carryStats(previous.stats);
  }

  private carryStats(previous: BpfStreamStats): void {
    this.stats.lines += previous.lines;
    this.stats.unparsed += previous.unparsed;
    this.stats.lost += previous.lost;
    this.stats.late += previous.late;
    this.stats.orphans += previous.orphans;
    this.stats.maxLatenessMs = Math.max(this.stats.maxLatenessMs, previous.maxLatenessMs);
    this.stats.unparsedSamples.push(...previous.unparsedSamples.slice(0, 5));
  }

  /** Takes one line as it arrives; nothing comes out until `release`. Never throws on a bad line. */
  push(line: string): void {
    this.stats.lines++;
    let rec: BpfRecord | BpfParseFailure | undefined;
    try {
      rec = parseBpfLine(line);
    } catch (error) {
      rec = { type: 'unparsed', reason: `parser error: ${(error as Error).message}` };
    }
    this.take(rec, line);
  }

  /** Takes one record decoded from the compiled sensor's binary stream (as `push` does a line). */
  pushRecord(rec: BpfRecord | BpfParseFailure): void {
    this.stats.lines++;
    this.take(rec, `${rec.type} record`);
  }

  private take(rec: BpfRecord | BpfParseFailure | undefined, line: string): void {
    if (rec === undefined) return;
    if (rec.type === 'unparsed') {
      this.stats.unparsed++;
      if (this.stats.unparsedSamples.length < 5) this.stats.unparsedSamples.push({ line: this.stats.lines, reason: rec.reason, text: line.slice(0, 200) });
      // A line that cannot be read is an event not seen: detections live then say so.
      if (this.ready) this.insert({ ns: this.maxSeenNs, record: { type: 'loss', count: 1 } });
      return;
    }
    if (rec.type === 'lost') {
      this.stats.lost += rec.count;
      this.lastLostAtNs = this.maxSeenNs;
      // The overflow happened on a CPU whose lines may trail the newest by the lateness seen.
      const at = this.maxSeenNs - this.latenessNs;
      this.insert({ ns: at > 0n ? at : this.maxSeenNs, record: { type: 'loss', count: rec.count } });
      return;
    }
    if (rec.type === 'ready') {
      this.ready = true;
      this.readyNs = rec.ns;
      this.see(rec.ns);
      return;
    }
    if (rec.type === 'sync' || rec.type === 'tick') {
      if (rec.type === 'sync') {
        // BEGIN (READY's time) runs before the probes are attached: processes forked while they
        // attached have no FORK line. The first SYNC, asked for after READY, is after all of them.
        if (this.lastSyncNs === undefined && this.readyNs !== undefined && rec.ns > this.readyNs) this.readyNs = rec.ns;
        this.lastSyncNs = rec.ns;
      }
      this.see(rec.ns);
      return;
    }
    if (rec.type === 'argv') {
      this.appendArgv(rec.tgid, rec.offset, rec.bytes);
      return;
    }
    this.see(rec.ns);
    if (rec.ns <= this.releasedUpTo) this.stats.late++;
    // A FORK read but not applied yet (held for the hold time) will introduce its child: the
    // child's lines need no /proc read of their own meanwhile.
    if (rec.type === 'fork' && !rec.thread) remember(this.forksAhead, rec.childTid, rec.ns, MAX_AHEAD);
    this.insert(this.enrich(rec));
  }

  /** Children whose FORK was read and not yet applied: pid → the FORK's time. */
  private readonly forksAhead = new Map<number, bigint>();
  /** /proc as read on the arrival of a process's first line whose FORK was not seen: by pid and start. */
  private readonly arrivalFacts = new Map<string, ProcessFacts | undefined>();

  /**
   * What /proc says of a process when a line of it arrives and it is not known yet: read once per
   * process (not once per line: a `sysctl -a` makes thousands of lines within one hold), and not
   * at all when its FORK is already on its way.
   */
  private factsOnArrival(tgid: number, startNs: bigint): ProcessFacts | undefined {
    if (this.isSame(tgid, startNs)) return undefined;
    const forkNs = this.forksAhead.get(tgid);
    if (forkNs !== undefined && startNs <= forkNs) return undefined;
    const key = `${String(tgid)}:${String(startNs)}`;
    if (this.arrivalFacts.has(key)) return this.arrivalFacts.get(key);
    const facts = this.options.procfs.facts(tgid);
    remember(this.arrivalFacts, key, facts, MAX_AHEAD);
    return facts;
  }

  /** Where "Lost N events" last came (monotonic ns of the newest line then), if ever. */
  get lostAtNs(): bigint | undefined {
    return this.lastLostAtNs;
  }

  private see(ns: bigint): void {
    if (ns > this.maxSeenNs) {
      this.maxSeenNs = ns;
      // Decay: lateness seen long ago stops holding lines back (halves every 256 newer lines).
      if ((this.stats.lines & 0xff) === 0) this.latenessNs /= 2n;
      return;
    }
    const lateness = this.maxSeenNs - ns;
    if (lateness > this.latenessNs) this.latenessNs = lateness;
    const ms = Number(lateness) / 1e6;
    if (ms > this.stats.maxLatenessMs) this.stats.maxLatenessMs = ms;
  }

  /**
   * Events of every line older than the hold, in time and causal order: older than `nowNs -
   * hold` and than the newest line read minus the hold (a reader that stalled has lines of
   * other CPUs still in the pipe, older than its clock says). All of them when `nowNs` is undefined.
   * `throughNs`: a barrier's time, after its hold: everything up to it has arrived.
   */
  release(nowNs?: bigint, throughNs?: bigint): SensorEvent[] {
    const basis = nowNs === undefined ? undefined : nowNs < this.maxSeenNs ? nowNs : this.maxSeenNs;
    const held = basis === undefined ? undefined : basis - this.holdNs;
    // A barrier that came back (and waited its hold) vouches for everything up to its own time.
    const cutoff = held === undefined || throughNs === undefined || throughNs < held ? held : throughNs;
    let n = 0;
    while (n < this.queue.length && (cutoff === undefined || (this.queue[n]?.ns ?? 0n) <= cutoff)) n++;
    const out: SensorEvent[] = [];
    if (n > 0) {
      const due = this.queue.slice(0, n);
      this.queue = this.queue.slice(n);
      const last = due[due.length - 1];
      if (last !== undefined && last.ns > this.releasedUpTo) this.releasedUpTo = last.ns;
      for (const p of due) this.map(p, out);
    }
    this.expireParked(cutoff, out);
    return out;
  }

  /** ARGV lines follow their EXEC line: add the chunk to the newest queued exec of that process. */
  private appendArgv(tgid: number, offset: number, bytes: Buffer): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const p = this.queue[i];
      if (p?.record.type === 'exec' && p.record.tgid === tgid) {
        const argv = p.argv ?? [p.record.argBytes];
        if (argv.reduce((n, b) => n + b.length, 0) === offset) argv.push(bytes);
        this.queue[i] = { ...p, argv };
        return;
      }
    }
  }

  private insert(p: Pending): void {
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]?.ns ?? 0n) > p.ns) i--;
    this.queue.splice(i, 0, p);
  }

  private enrich(rec: Exclude<TimedRecord, LossRecord>): Pending {
    const { procfs, cgroup } = this.options;
    // The kernel's cgroup id first (on arrival: its directory may be gone soon after the process).
    if (cgroup !== undefined && (rec.type === 'exec' || (rec.type === 'fork' && !rec.thread)) && rec.cgroupId !== undefined && rec.cgroupId > 0n) {
      if (rec.type === 'exec') {
        cgroup({
          pid: rec.tgid, startMs: this.timeMs(rec.startNs), atMs: this.timeMs(rec.ns), id: rec.cgroupId, exec: true,
          ...optional('leaf', rec.cgroupLeaf === '' ? undefined : rec.cgroupLeaf), ...optional('parent', rec.cgroupParent),
          ...optional('level', rec.cgroupLevel), ...optional('top', rec.cgroupTop),
        });
      } else cgroup({ pid: rec.childTid, startMs: this.timeMs(rec.ns), atMs: this.timeMs(rec.ns), id: rec.cgroupId, exec: false });
    }
    if (rec.type === 'exec') {
      // The file the kernel said it ran (device and inode at exec) when the path is whole and
      // absolute: exact, and the process may be gone already. Else /proc, checked on arrival.
      const whole = rec.filenameWhole === true || Buffer.byteLength(rec.filename) < PATH_LIMIT;
      const byInode = whole && rec.filename.startsWith('/') ? procfs.verifiedByInode?.(rec.filename, rec.exeDev, rec.exeIno) : undefined;
      const verifiedExe = byInode !== undefined ? byInode : (procfs.verifiedExe(rec.tgid, whole ? rec.filename : undefined) ?? null);
      return { ns: rec.ns, record: rec, verifiedExe, ...optional('facts', procfs.facts(rec.tgid)) };
    }
    if (rec.type !== 'file') return { ns: rec.ns, record: rec };
    let base: string | undefined;
    if (!rec.path.startsWith('/') && baseFromNames(rec) === undefined) {
      base = rec.dfd === AT_FDCWD ? procfs.cwd(rec.tgid) : rec.dfd >= 0 ? procfs.fdPath(rec.tgid, rec.dfd) : undefined;
    }
    let realpath: string | undefined;
    if ((rec.why & WHY.statOnProc) !== 0) {
      const cwd = rec.path.startsWith('/') ? '' : (procfs.cwd(rec.tgid) ?? '');
      realpath = procfs.realpath(rec.path.startsWith('/') ? rec.path : `${cwd}/${rec.path}`);
    }
    // A process not (yet) known may be gone by the time its FORK line comes: read /proc now.
    const facts = this.factsOnArrival(rec.tgid, rec.startNs);
    return { ns: rec.ns, record: rec, ...optional('base', base), ...optional('realpath', realpath), ...optional('facts', facts) };
  }

  private timeMs(ns: bigint): number {
    return Number(ns + this.options.offsetNs) / 1e6;
  }

  private inScope(tgid: number): boolean {
    return this.monitored === undefined || this.monitored.has(tgid);
  }

  /** Whether `pid` is known as the process that started at `startNs`. */
  private isSame(pid: number, startNs: bigint): boolean {
    const known = this.known.get(pid);
    // -1n: introduced from /proc (it predates the sensor); a FORK's time is just after the child's start.
    return known !== undefined && (known.start === -1n || startNs <= known.start);
  }

  /**
   * Whether a line of (pid, start) made by image `execId` can be applied now, else where it
   * waits: for the FORK line that made the process, or for the EXEC line that brought that image.
   */
  private established(pid: number, startNs: bigint, execId: number): 'now' | 'exited' | 'wait' | 'introduce' {
    if (this.isSame(pid, startNs)) {
      const exec = this.known.get(pid)?.exec ?? -1;
      return exec === -1 || execId <= exec ? 'now' : 'wait';
    }
    const exited = this.exited.get(pid);
    if (exited !== undefined && (exited === -1n || startNs <= exited)) return 'exited';
    // Started before the sensor: no FORK line will come; /proc tells its ancestry.
    if (this.readyNs === undefined || startNs < this.readyNs) return 'introduce';
    return 'wait';
  }

  private park(pid: number, p: Pending): void {
    if (this.outside.has(pid) && !this.known.has(pid)) return;
    const list = this.parked.get(pid);
    if (list === undefined) this.parked.set(pid, [p]);
    else list.push(p);
    this.parkedCount++;
  }

  /** A process became known: its parked lines (and those of children they make known) are applied. */
  private unpark(pid: number, out: SensorEvent[]): void {
    const list = this.parked.get(pid);
    if (list === undefined) return;
    this.parked.delete(pid);
    this.parkedCount -= list.length;
    for (const p of list) this.map(p, out);
  }

  /** Lines whose FORK never came in time: their process is introduced from what is known. */
  private expireParked(cutoff: bigint | undefined, out: SensorEvent[]): void {
    if (this.parkedCount === 0) return;
    const due: number[] = [];
    for (const [pid, list] of this.parked) {
      const first = list[0];
      if (first === undefined) continue;
      if (cutoff === undefined || first.ns + MAX_PARK_NS <= cutoff || this.parkedCount > MAX_PARKED) due.push(pid);
    }
    for (const pid of due) {
      const list = this.parked.get(pid);
      if (list === undefined) continue;
      this.parked.delete(pid);
      this.parkedCount -= list.length;
      this.stats.orphans++;
      const first = list[0];
      if (first === undefined) continue;
      const known = this.known.get(pid);
      const start = startOf(first.record);
      // Known, but an EXEC line never came: the lines are taken as they are (the image they name is unknown).
      if (known !== undefined && (start === undefined || this.isSame(pid, start))) known.exec = -1;
      else if (!this.introduceFrom(pid, first, list, out)) {
        // Not the command's, as far as anything tells: dropped, and said.
        out.push({ kind: 'sensor-loss', timeMs: this.timeMs(first.ns), lost: list.length });
        continue;
      }
      for (const p of list) this.map(p, out);
    }
  }

  /** Makes an orphan known: from its EXEC line if one is parked, else from /proc as read on arrival. False: it is outside the command. */
  private introduceFrom(pid: number, first: Pending, list: readonly Pending[], out: SensorEvent[]): boolean {
    const startNs = startOf(first.record);
    const exec = list.find((p) => p.record.type === 'exec');
    const facts = list.find((p) => p.facts !== undefined)?.facts;
    const timeMs = this.timeMs(first.ns);
    const ppid = exec?.record.type === 'exec' ? exec.record.ppid : facts?.ppid;
    if (this.monitored !== undefined && !this.monitored.has(pid)) {
      const parentIn = ppid !== undefined && (this.monitored.has(ppid) || this.wasMonitored(ppid));
      if (!parentIn && this.options.kernelFiltered !== true) return false;
      this.monitored.add(pid);
    }
    if (ppid !== undefined && ppid > 0 && !this.known.has(ppid) && !this.exited.has(ppid)) this.introduce(ppid, timeMs, out);
    this.known.set(pid, { start: startNs ?? -1n, exec: -1 });
    if (ppid !== undefined && ppid > 0) out.push({ kind: 'fork', timeMs, parentTid: ppid, childTid: pid, thread: false, sharesFs: false });
    // An EXEC among the lines brings exe and argv itself; else what /proc said on arrival.
    if (exec === undefined && facts !== undefined) this.pushFacts(pid, facts, timeMs, out);
    return true;
  }

  private map(p: Pending, out: SensorEvent[]): void {
    const rec = p.record;
    const timeMs = this.timeMs(p.ns);
    switch (rec.type) {
      case 'loss':
        out.push({ kind: 'sensor-loss', timeMs, lost: rec.count });
        return;
      case 'fork': {
        if (rec.thread) return;
        const state = this.established(rec.parentTgid, rec.parentStartNs, rec.parentExecId);
        if (state === 'wait') {
          if (this.outside.has(rec.parentTgid)) this.markOutside(rec.childTid);
          else this.park(rec.parentTgid, p);
          return;
        }
        if (this.monitored !== undefined) {
          // The parent is known (or predates the sensor): outside the command, its children are
          // too. A parent whose EXIT was applied first (this line came late) still counts.
          const parentIn = state === 'exited' ? this.wasMonitored(rec.parentTgid) : this.monitored.has(rec.parentTgid);
          if (!parentIn) {
            // Its lines are not the command's either: dropped rather than left waiting.
            this.markOutside(rec.childTid);
            return;
          }
          this.monitored.add(rec.childTid);
          this.outside.delete(rec.childTid);
        }
        if (state === 'introduce') this.introduce(rec.parentTgid, timeMs, out, undefined, undefined, rec.parentExecId, rec.parentStartNs);
        // A FORK line names a new process, unless this one was already introduced from a line of
        // its own (its FORK came later than anyone could wait): then its start is just before the fork.
        const existing = this.known.get(rec.childTid);
        const sameProcess = existing !== undefined && existing.start > 0n && existing.start <= rec.ns && rec.ns - existing.start < 10_000_000n;
        if (!sameProcess) {
          this.exited.delete(rec.childTid);
          // The child runs its parent's image (same exec count) until it execs.
          this.known.set(rec.childTid, { start: rec.ns, exec: rec.parentExecId });
          if (this.forksAhead.get(rec.childTid) === rec.ns) this.forksAhead.delete(rec.childTid);
          if (this.known.size > MAX_KNOWN) {
            const oldest = this.known.keys().next().value;
            if (oldest !== undefined && oldest !== rec.childTid) this.known.delete(oldest);
          }
          out.push({ kind: 'fork', timeMs, parentTid: rec.parentTgid, childTid: rec.childTid, thread: false, sharesFs: false });
        }
        this.unpark(rec.childTid, out);
        return;
      }
      case 'exec': {
        // An exec applies after the image before it (exec count - 1).
        const state = this.established(rec.tgid, rec.startNs, rec.execId - 1);
        if (state === 'wait') {
          this.park(rec.tgid, p);
          return;
        }
        if (state === 'exited') return;
        if (state === 'introduce') {
          // The EXEC line names the parent: a process that predates the sensor joins the
          // command's tree through it.
          if (this.monitored !== undefined && !this.monitored.has(rec.tgid) && this.monitored.has(rec.ppid)) this.monitored.add(rec.tgid);
          if (!this.inScope(rec.tgid)) return;
          this.introduce(rec.tgid, timeMs, out, rec.ppid, undefined, -1, rec.startNs);
        }
        const known = this.known.get(rec.tgid);
        if (known !== undefined) known.exec = rec.execId;
        if (this.inScope(rec.tgid)) this.pushExec(rec, p, timeMs, out);
        // Lines of this image (and forks it made) may be waiting for it.
        this.unpark(rec.tgid, out);
        return;
      }
      case 'exit': {
        // After every EXEC of the process (the image that exited is the last).
        const state = this.established(rec.tgid, rec.startNs, rec.execId);
        if (state === 'wait') {
          this.park(rec.tgid, p);
          return;
        }
        if (state !== 'now' || !this.inScope(rec.tgid)) return;
        this.known.delete(rec.tgid);
        this.rememberExit(rec.tgid, rec.startNs);
        this.monitored?.delete(rec.tgid);
        const signal = rec.status & 0x7f;
        out.push(signal === 0
          ? { kind: 'exit', timeMs, tid: rec.tgid, exitCode: (rec.status >> 8) & 0xff }
          : { kind: 'exit', timeMs, tid: rec.tgid, signal: SIGNAL_NAMES.get(signal) ?? `SIG${signal}`, coreDumped: (rec.status & 0x80) !== 0 });
        return;
      }
      case 'file': {
        const state = this.established(rec.tgid, rec.startNs, rec.execId);
        if (state === 'wait') {
          this.park(rec.tgid, p);
          return;
        }
        // A line that came after its process's EXIT is still that process's (the table keeps exited processes).
        if (state === 'exited') {
          if (this.monitored !== undefined && !this.wasMonitored(rec.tgid)) return;
        } else {
          if (!this.inScope(rec.tgid)) return;
          if (state === 'introduce') this.introduce(rec.tgid, timeMs, out, undefined, p.facts, rec.execId, rec.startNs);
        }
        const event = fileEvent(rec, p, timeMs);
        if (event !== undefined) out.push(event);
        return;
      }
    }
  }

  /** Processes known to be outside the command (run), so their lines are dropped, not parked. */
  private readonly outside = new Set<number>();

  private markOutside(pid: number): void {
    // The command's own root is forked by tripline, which is outside: it stays the command's.
    if (this.monitored?.has(pid) === true) return;
    this.outside.add(pid);
    if (this.outside.size > RECENT_EXITS) {
      const oldest = this.outside.values().next().value;
      if (oldest !== undefined) this.outside.delete(oldest);
    }
    const list = this.parked.get(pid);
    if (list !== undefined) {
      this.parked.delete(pid);
      this.parkedCount -= list.length;
    }
  }

  /** Exited processes of the command are remembered with it (run): their late lines still count. */
  private readonly exitedMonitored = new Set<number>();

  private wasMonitored(pid: number): boolean {
    return this.exitedMonitored.has(pid);
  }

  private rememberExit(pid: number, startNs: bigint): void {
    this.exited.set(pid, startNs);
    if (this.monitored?.has(pid) === true) this.exitedMonitored.add(pid);
    if (this.exited.size > RECENT_EXITS) {
      const oldest = this.exited.keys().next().value;
      if (oldest !== undefined) {
        this.exited.delete(oldest);
        this.exitedMonitored.delete(oldest);
      }
    }
  }

  private pushExec(rec: ExecRecord, p: Pending, timeMs: number, out: SensorEvent[]): void {
    // /proc has the whole argv if the process was still there; else what the kernel printed.
    const facts = p.facts;
    const fromProc = facts?.argv;
    const fromKernel = argvFromBytes(Buffer.concat(p.argv ?? [rec.argBytes]), rec.argLength);
    // The path as exec'd (like strace shows it), unless the program had to cut it.
    const path = rec.filenameWhole === true || Buffer.byteLength(rec.filename) < PATH_LIMIT ? rec.filename : (facts?.exe ?? rec.filename);
    // The kernel's copy, read at exec before the program ran, when it is whole: /proc's can be rewritten by the process.
    out.push({
      kind: 'exec', timeMs, tid: rec.tgid, path,
      argv: fromKernel.complete ? fromKernel.argv : (fromProc ?? fromKernel.argv), argvTruncated: !fromKernel.complete && fromProc === undefined,
      verifiedExe: p.verifiedExe ?? null,
    });
    out.push({ kind: 'uid', timeMs, tid: rec.tgid, uid: rec.uid });
  }

  /**
   * Makes a process known, with its /proc ancestry, if it predates what the sensor has seen.
   * `arrival` is what /proc said when the line arrived (the process may be gone since).
   */
  private introduce(pid: number, timeMs: number, out: SensorEvent[], knownPpid?: number, arrival?: ProcessFacts, execId = -1, startNs = -1n): void {
    const chain: { pid: number; facts: ProcessFacts | undefined }[] = [];
    let current: number | undefined = pid;
    let ppidHint = knownPpid;
    for (let depth = 0; current !== undefined && current > 0 && !this.known.has(current) && depth < MAX_BOOTSTRAP_DEPTH; depth++) {
      const facts: ProcessFacts | undefined = (depth === 0 ? arrival : undefined) ?? this.options.procfs.facts(current);
      chain.push({ pid: current, facts });
      // The line's own start when it gave one (a recycled pid then looks different); else unknown.
      this.known.set(current, { start: depth === 0 ? startNs : -1n, exec: depth === 0 ? execId : -1 });
      current = ppidHint ?? facts?.ppid;
      ppidHint = undefined;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const entry = chain[i];
      if (entry === undefined) continue;
      const parent = i === chain.length - 1 ? current : chain[i + 1]?.pid;
      if (parent !== undefined && parent > 0) out.push({ kind: 'fork', timeMs, parentTid: parent, childTid: entry.pid, thread: false, sharesFs: false });
      if (entry.facts !== undefined) this.pushFacts(entry.pid, entry.facts, timeMs, out);
    }
  }

  private pushFacts(pid: number, f: ProcessFacts, timeMs: number, out: SensorEvent[]): void {
    if (f.exe !== undefined || f.argv !== undefined) {
      out.push({
        kind: 'exec', timeMs, tid: pid, path: f.exe ?? f.argv?.[0] ?? '?', argv: f.argv ?? [], argvTruncated: f.argv === undefined,
        verifiedExe: this.options.procfs.verifiedExe(pid) ?? null,
      });
    }
    if (f.cwd !== undefined) out.push({ kind: 'cwd', timeMs, tid: pid, fd: { fd: 'AT_FDCWD', path: f.cwd } });
    if (f.uid !== undefined) out.push({ kind: 'uid', timeMs, tid: pid, uid: f.uid });
  }
}

function startOf(rec: TimedRecord): bigint | undefined {
  return rec.type === 'fork' || rec.type === 'loss' ? undefined : rec.startNs;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function baseFromNames(rec: FileRecord): string | undefined {
  return rec.resolvedKind === 'b' ? procPathFromNames(rec.depth, rec.names, (rec.why & WHY.underNet) !== 0) : undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function fileEvent(rec: FileRecord, p: Pending, timeMs: number): SensorEvent | undefined {
  // The call as named in evidence ("i386:open", "io_uring:openat"); what it does, from the table every sensor shares.
  const syscall = evidenceSyscall(rec.syscall);
  const ok = rec.ret >= 0;
  const resolved = rec.resolvedKind === 'o' && ok ? procPathFromNames(rec.depth, rec.names, (rec.why & WHY.underNet) !== 0) : undefined;
  const access = syscallAccess(rec.syscall, openFlagsFromBits(rec.arg));
  if (access === undefined) return undefined;
  if (access === 'cwd') {
    const path = resolved ?? p.realpath;
    return ok && path !== undefined ? { kind: 'cwd', timeMs, tid: rec.tgid, fd: { fd: 'AT_FDCWD', path } } : undefined;
  }
  const { action, isDirectory } = access;
  const event: Writable<AccessEvent> = { kind: 'access', timeMs, tid: rec.tgid, syscall, action };
  if (!ok) event.error = ERRNO_NAMES.get(-rec.ret) ?? `E${-rec.ret}`;
  if (resolved !== undefined) {
    event.resolvedPath = resolved;
    if (isOpen(rec.syscall) && rec.resultUnknown !== true) event.returnedFd = rec.ret;
  } else if (p.realpath !== undefined) event.resolvedPath = p.realpath;
  if (isDirectory !== undefined) event.isDirectory = isDirectory;
  if (access.noFollow === true) event.noFollow = true;
  // A path at the program's string limit may be cut (bpftrace's; the compiled sensor's are whole).
  // With the kernel's resolution it is not needed; without it, only its directory part is
  // trusted (a file counts for its directory).
  const cut = rec.pathWhole === undefined ? Buffer.byteLength(rec.path) >= PATH_LIMIT : !rec.pathWhole;
  if (rec.path !== '' && !cut) event.path = rec.path;
  else if (cut && event.resolvedPath === undefined) {
    const slash = rec.path.lastIndexOf('/');
    if (slash <= 0) return undefined;
    event.path = rec.path.slice(0, slash);
    event.isDirectory = true;
  }
  if (event.path === undefined && event.resolvedPath === undefined) return undefined;
  if (event.path !== undefined && !event.path.startsWith('/')) {
    const base: FdRef = rec.dfd === AT_FDCWD ? { fd: 'AT_FDCWD' } : { fd: rec.dfd };
    const basePath = baseFromNames(rec) ?? p.base;
    event.base = basePath === undefined ? base : { ...base, path: basePath };
  }
  return event;
}

/** Entries kept by the arrival caches (processes whose FORK is pending, /proc read on arrival). */
const MAX_AHEAD = 8_192;

/** Sets `key` in a map kept to `max` entries, the oldest going first. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
}
