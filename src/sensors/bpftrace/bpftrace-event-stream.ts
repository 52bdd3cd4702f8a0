// From tripline.bt lines to sensor events: enriched from /proc the moment a line arrives (a
// short-lived process is gone soon after), put back in time order (each CPU has its own
// buffer), processes that predate the sensor introduced through their /proc ancestry, and,
// for `run`, everything outside the monitored command's process tree left out.

import { constants } from 'node:os';
import type { AccessAction, AccessEvent, FdRef, SensorEvent } from '../../model/sensor-event.ts';
import { openAction, openFlagsFromBits } from '../open-action.ts';
import type { ProcessFacts, ProcfsReader } from '../procfs-reader.ts';
import {
  argvFromBytes, parseBpfLine, procPathFromNames, WHY, type ArgvRecord, type BpfRecord, type FileRecord, type LostRecord, type ReadyRecord,
} from './bpftrace-line-parser.ts';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

const SYSCALL_NAMES: Readonly<Record<string, string>> = { newstat: 'stat', newlstat: 'lstat' };
/** creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC). */
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const AT_FDCWD = -100;
/** The program cuts strings at this many bytes (BPFTRACE_STRLEN - 1). */
export const PATH_LIMIT = 51;
const MAX_BOOTSTRAP_DEPTH = 64;
/**
 * How long a line waits for earlier lines from other CPUs. 50 ms was too short on a loaded
 * 2-core machine (a child's FORK line came after its EXEC and reads); the EXEC line's parent
 * covers the rest.
 */
const DEFAULT_HOLD_NS = 200_000_000n;

type TimedRecord = Exclude<BpfRecord, LostRecord | ReadyRecord | ArgvRecord>;

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
  lost: number;
  readonly unparsedSamples: { line: number; reason: string; text: string }[];
}

export interface BpfStreamOptions {
  readonly procfs: ProcfsReader;
  /** Added to the program's CLOCK_MONOTONIC ns to get Unix ns. */
  readonly offsetNs: bigint;
  /** How long a line is held for lines from other CPUs that happened earlier (200 ms by default). */
  readonly holdNs?: bigint;
  /** Only this process and its descendants (for `run`); undefined watches every process. */
  readonly rootPid?: number;
  /** Watch nothing until `limitTo` names the command. */
  readonly commandOnly?: boolean;
}

export class BpfEventStream {
  readonly stats: BpfStreamStats = { lines: 0, unparsed: 0, lost: 0, unparsedSamples: [] };
  private queue: Pending[] = [];
  private readonly known = new Set<number>();
  private monitored: Set<number> | undefined;
  private ready = false;

  constructor(private readonly options: BpfStreamOptions) {
    this.monitored = options.rootPid === undefined ? (options.commandOnly === true ? new Set() : undefined) : new Set([options.rootPid]);
    if (options.rootPid !== undefined) this.known.add(options.rootPid);
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** From now on, only `pid` and its descendants. */
  limitTo(pid: number): void {
    this.monitored = new Set([pid]);
    this.known.add(pid);
  }

  /** Processes of the monitored command not yet seen exiting (none when watching the host). */
  monitoredPids(): number[] {
    return [...(this.monitored ?? [])];
  }

  /** Keeps what the previous stream knew across a restart of bpftrace: counters and known processes. */
  carryOver(previous: BpfEventStream): void {
    for (const pid of previous.known) this.known.add(pid);
    this.carryStats(previous.stats);
  }

  private carryStats(previous: BpfStreamStats): void {
    this.stats.lines += previous.lines;
    this.stats.unparsed += previous.unparsed;
    this.stats.lost += previous.lost;
    this.stats.unparsedSamples.push(...previous.unparsedSamples.slice(0, 5));
  }

  /** Takes one line as it arrives; nothing comes out until `release`. */
  push(line: string): void {
    this.stats.lines++;
    const rec = parseBpfLine(line);
    if (rec === undefined) return;
    if (rec.type === 'unparsed') {
      this.stats.unparsed++;
      if (this.stats.unparsedSamples.length < 5) this.stats.unparsedSamples.push({ line: this.stats.lines, reason: rec.reason, text: line.slice(0, 200) });
      return;
    }
    if (rec.type === 'lost') {
      this.stats.lost += rec.count;
      return;
    }
    if (rec.type === 'ready') {
      this.ready = true;
      return;
    }
    if (rec.type === 'argv') {
      this.appendArgv(rec.tgid, rec.offset, rec.bytes);
      return;
    }
    this.insert(this.enrich(rec));
  }

  /** Events of every line older than `nowNs - hold` (all of them when `nowNs` is undefined), in time order. */
  release(nowNs?: bigint): SensorEvent[] {
    const cutoff = nowNs === undefined ? undefined : nowNs - (this.options.holdNs ?? DEFAULT_HOLD_NS);
    let n = 0;
    while (n < this.queue.length && (cutoff === undefined || (this.queue[n]?.ns ?? 0n) <= cutoff)) n++;
    if (n === 0) return [];
    const due = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    const out: SensorEvent[] = [];
    for (const p of due) this.map(p, out);
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

  private enrich(rec: TimedRecord): Pending {
    const { procfs } = this.options;
    if (rec.type === 'exec') {
      // Checked on arrival, while the process most likely still runs this image.
      const whole = Buffer.byteLength(rec.filename) < PATH_LIMIT;
      const verifiedExe = procfs.verifiedExe(rec.tgid, whole ? rec.filename : undefined) ?? null;
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
    return { ns: rec.ns, record: rec, ...optional('base', base), ...optional('realpath', realpath) };
  }

  private timeMs(ns: bigint): number {
    return Number(ns + this.options.offsetNs) / 1e6;
  }

  private inScope(tgid: number): boolean {
    return this.monitored === undefined || this.monitored.has(tgid);
  }

  private map(p: Pending, out: SensorEvent[]): void {
    const rec = p.record;
    const timeMs = this.timeMs(p.ns);
    switch (rec.type) {
      case 'fork': {
        if (rec.thread) return;
        if (this.monitored !== undefined) {
          if (!this.monitored.has(rec.parentTgid)) return;
          this.monitored.add(rec.childTid);
        }
        // Already introduced by its EXEC line (this FORK line came late from another CPU).
        if (this.known.has(rec.childTid)) return;
        this.introduce(rec.parentTgid, timeMs, out);
        this.known.add(rec.childTid);
        out.push({ kind: 'fork', timeMs, parentTid: rec.parentTgid, childTid: rec.childTid, thread: false, sharesFs: false });
        return;
      }
      case 'exec': {
        // The EXEC line names the parent: enough to know a child of the command even when its
        // FORK line, printed on another CPU, has not arrived yet.
        if (this.monitored !== undefined && !this.monitored.has(rec.tgid) && this.monitored.has(rec.ppid)) this.monitored.add(rec.tgid);
        if (!this.inScope(rec.tgid)) return;
        if (!this.known.has(rec.tgid)) this.introduce(rec.tgid, timeMs, out, rec.ppid);
        // /proc has the whole argv if the process was still there; else what the kernel printed.
        const facts = p.facts;
        const fromProc = facts?.argv;
        const fromKernel = argvFromBytes(Buffer.concat(p.argv ?? [rec.argBytes]), rec.argLength);
        // The path as exec'd (like strace shows it), unless the program had to cut it.
        const path = Buffer.byteLength(rec.filename) < PATH_LIMIT ? rec.filename : (facts?.exe ?? rec.filename);
        // The kernel's copy, read at exec before the program ran, when it is whole: /proc's can be rewritten by the process.
        out.push({
          kind: 'exec', timeMs, tid: rec.tgid, path,
          argv: fromKernel.complete ? fromKernel.argv : (fromProc ?? fromKernel.argv), argvTruncated: !fromKernel.complete && fromProc === undefined,
          verifiedExe: p.verifiedExe ?? null,
        });
        out.push({ kind: 'uid', timeMs, tid: rec.tgid, uid: rec.uid });
        return;
      }
      case 'exit': {
        if (!this.inScope(rec.tgid) || !this.known.has(rec.tgid)) return;
        this.known.delete(rec.tgid);
        this.monitored?.delete(rec.tgid);
        const signal = rec.status & 0x7f;
        out.push(signal === 0
          ? { kind: 'exit', timeMs, tid: rec.tgid, exitCode: (rec.status >> 8) & 0xff }
          : { kind: 'exit', timeMs, tid: rec.tgid, signal: SIGNAL_NAMES.get(signal) ?? `SIG${signal}`, coreDumped: (rec.status & 0x80) !== 0 });
        return;
      }
      case 'file': {
        if (!this.inScope(rec.tgid)) return;
        this.introduce(rec.tgid, timeMs, out);
        const event = fileEvent(rec, p, timeMs);
        if (event !== undefined) out.push(event);
        return;
      }
    }
  }

  /** Makes a process known, with its /proc ancestry, if it predates what the sensor has seen. */
  private introduce(pid: number, timeMs: number, out: SensorEvent[], knownPpid?: number): void {
    const chain: { pid: number; facts: ProcessFacts | undefined }[] = [];
    let current: number | undefined = pid;
    let ppidHint = knownPpid;
    for (let depth = 0; current !== undefined && current > 0 && !this.known.has(current) && depth < MAX_BOOTSTRAP_DEPTH; depth++) {
      const facts = this.options.procfs.facts(current);
      chain.push({ pid: current, facts });
      this.known.add(current);
      current = ppidHint ?? facts?.ppid;
      ppidHint = undefined;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const entry = chain[i];
      if (entry === undefined) continue;
      const parent = i === chain.length - 1 ? current : chain[i + 1]?.pid;
      if (parent !== undefined && parent > 0) out.push({ kind: 'fork', timeMs, parentTid: parent, childTid: entry.pid, thread: false, sharesFs: false });
      const f = entry.facts;
      if (f?.exe !== undefined || f?.argv !== undefined) {
        out.push({
          kind: 'exec', timeMs, tid: entry.pid, path: f.exe ?? f.argv?.[0] ?? '?', argv: f.argv ?? [], argvTruncated: f.argv === undefined,
          verifiedExe: this.options.procfs.verifiedExe(entry.pid) ?? null,
        });
      }
      if (f?.cwd !== undefined) out.push({ kind: 'cwd', timeMs, tid: entry.pid, fd: { fd: 'AT_FDCWD', path: f.cwd } });
      if (f?.uid !== undefined) out.push({ kind: 'uid', timeMs, tid: entry.pid, uid: f.uid });
    }
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function baseFromNames(rec: FileRecord): string | undefined {
  return rec.resolvedKind === 'b' ? procPathFromNames(rec.depth, rec.names, (rec.why & WHY.underNet) !== 0) : undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function fileEvent(rec: FileRecord, p: Pending, timeMs: number): SensorEvent | undefined {
  const syscall = SYSCALL_NAMES[rec.syscall] ?? rec.syscall;
  const ok = rec.ret >= 0;
  const resolved = rec.resolvedKind === 'o' && ok ? procPathFromNames(rec.depth, rec.names, (rec.why & WHY.underNet) !== 0) : undefined;
  if (syscall === 'chdir' || syscall === 'fchdir') {
    const path = resolved ?? p.realpath;
    return ok && path !== undefined ? { kind: 'cwd', timeMs, tid: rec.tgid, fd: { fd: 'AT_FDCWD', path } } : undefined;
  }
  let action: AccessAction;
  let isDirectory: boolean | undefined;
  if (syscall.startsWith('open') || syscall === 'creat') {
    ({ action, isDirectory } = openAction(openFlagsFromBits(syscall === 'creat' ? O_CREAT | O_WRONLY : rec.arg)));
  } else if (syscall === 'getdents64') {
    action = 'list';
    isDirectory = true;
  } else if (syscall.startsWith('readlink')) {
    action = 'readlink';
  } else if (syscall === 'access' || syscall.startsWith('faccessat')) {
    action = 'access';
  } else {
    action = 'stat';
  }
  const event: Writable<AccessEvent> = { kind: 'access', timeMs, tid: rec.tgid, syscall, action };
  if (!ok) event.error = ERRNO_NAMES.get(-rec.ret) ?? `E${-rec.ret}`;
  if (resolved !== undefined) {
    event.resolvedPath = resolved;
    if (action !== 'list' && syscall.startsWith('open')) event.returnedFd = rec.ret;
  } else if (p.realpath !== undefined) event.resolvedPath = p.realpath;
  if (isDirectory !== undefined) event.isDirectory = isDirectory;
  if (syscall === 'lstat' || action === 'readlink') event.noFollow = true;
  // A path at the program's string limit may be cut. With the kernel's resolution it is not
  // needed; without it, only its directory part is trusted (a file counts for its directory).
  const cut = Buffer.byteLength(rec.path) >= PATH_LIMIT;
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
