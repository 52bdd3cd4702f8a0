// The process table: threads to processes, fork lineage, exec identity, cwd, uid, open fds of
// interest and learned symlinks. Pure state fed by sensor events; bounded in memory.

import type { ProcessInfo } from '../model/process-info.ts';
import type { LinkResolver } from './path-canonicalizer.ts';

interface MutableProcess {
  pid: number;
  ppid: number | undefined;
  exe: string | undefined;
  verifiedExe: string | null | undefined;
  /** The parent's image when it forked this process (exceptions on the parent judge that one). */
  forkedBy?: { exe: string | undefined; verifiedExe: string | null | undefined } | undefined;
  /** In a mount namespace other than Tripline's (inherited by children). */
  foreignMounts: boolean;
  argv: readonly string[];
  argvTruncated: boolean;
  cwd: string | undefined;
  uid: number | undefined;
  startMs: number | undefined;
  exitMs: number | undefined;
  exitCode: number | undefined;
  exitSignal: string | undefined;
  execed: boolean;
  /** fd → canonical path, only for fds on procfs (what /proc/<pid>/fd/N tricks can reach). */
  fds: Map<number, string> | undefined;
  /** Thread ids other than the leader's. */
  threads: number[] | undefined;
}

export interface ProcessTableOptions {
  /** Exited processes kept for ancestry and reports before the oldest are forgotten. */
  readonly exitedCapacity?: number;
  /** Learned symlinks kept. */
  readonly symlinkCapacity?: number;
  /** fds remembered per process. */
  readonly fdCapacity?: number;
}

export class ProcessTable implements LinkResolver {
  private readonly live = new Map<number, MutableProcess>();
  private readonly exited = new Map<number, MutableProcess>();
  /**
   * Each process's parent as the object it was at the fork, not as a pid: a parent's pid may
   * belong to another process by the time a child is looked at (reused at once with
   * clone3(set_tid)), and the child still descends from the one that forked it.
   */
  private readonly parentOfProcess = new WeakMap<ProcessInfo, MutableProcess>();
  /**
   * Every process that exited or whose pid another took, oldest first, up to the exited
   * capacity: past it a process is forgotten (no longer anyone's known parent), so a chain
   * of dead ancestors cannot hold memory without bound.
   */
  private readonly gone = new Set<MutableProcess>();
  private readonly forgotten = new WeakSet<ProcessInfo>();
  private readonly threadGroup = new Map<number, number>();
  /** Thread ids (leaders included) of exited processes, until a fork reuses them. */
  private readonly exitedThreads = new Map<number, number>();
  private readonly symlinks = new Map<string, string>();
  private readonly exitedCapacity: number;
  private readonly symlinkCapacity: number;
  private readonly fdCapacity: number;
  private rootPid: number | undefined;

  constructor(options: ProcessTableOptions = {}) {
    this.exitedCapacity = options.exitedCapacity ?? 8192;
    this.symlinkCapacity = options.symlinkCapacity ?? 256;
    this.fdCapacity = options.fdCapacity ?? 64;
  }

  /** The first process seen: the monitored root. */
  get root(): number | undefined {
    return this.rootPid;
  }

  get hasSymlinks(): boolean {
    return this.symlinks.size > 0;
  }

  /** The process a thread belongs to, creating an entry for a thread never seen before. */
  pidOf(tid: number, defaults: { cwd?: string; uid?: number; timeMs?: number } = {}): number {
    const pid = this.threadGroup.get(tid);
    if (pid !== undefined) return pid;
    // A thread of a process that already exited (strace prints a kill line per thread, and
    // calls still finishing after exit_group) belongs to that process, not to a new one.
    const gone = this.exitedThreads.get(tid);
    if (gone !== undefined) return gone;
    this.threadGroup.set(tid, tid);
    if (!this.live.has(tid)) {
      this.live.set(tid, blank(tid, undefined, defaults.cwd, defaults.uid, defaults.timeMs));
    }
    this.rootPid ??= tid;
    return tid;
  }

  get(pid: number): ProcessInfo | undefined {
    return this.live.get(pid) ?? this.exited.get(pid);
  }

  /** The process that forked the process now holding `pid` (also when the parent's pid now belongs to another). */
  parent(pid: number): ProcessInfo | undefined {
    const child = this.get(pid);
    return child === undefined ? undefined : this.parentOf(child);
  }

  /** The process that forked `p` (one of this table's processes), unless it was never seen or is forgotten. */
  parentOf(p: ProcessInfo): ProcessInfo | undefined {
    const parent = this.parentOfProcess.get(p);
    return parent === undefined || this.forgotten.has(parent) ? undefined : parent;
  }

  /** Parent first, up to the monitored root or the first unknown ancestor. */
  ancestry(pid: number): ProcessInfo[] {
    const p = this.get(pid);
    return p === undefined ? [] : this.ancestryOf(p);
  }

  /** The ancestry of `p` itself, by the processes that forked each (never by pids, which may be reused). */
  ancestryOf(p: ProcessInfo): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    const seen = new Set<ProcessInfo>([p]);
    for (let parent = this.parentOf(p); parent !== undefined && !seen.has(parent); parent = this.parentOf(parent)) {
      seen.add(parent);
      out.push(parent);
    }
    return out;
  }

  /** Whether `p` itself still runs (its pid is not held by another process since). */
  isRunning(p: ProcessInfo): boolean {
    return this.live.get(p.pid) === p;
  }

  /** A thread (CLONE_THREAD) joins its parent's process; anything else is a new process inheriting cwd, uid, identity and fds. */
  fork(parentTid: number, childTid: number, thread: boolean, timeMs: number, newMountNamespace = false): void {
    const parentPid = this.pidOf(parentTid);
    const parent = this.live.get(parentPid) ?? this.exited.get(parentPid);
    if (thread) {
      this.exitedThreads.delete(childTid);
      this.threadGroup.set(childTid, parentPid);
      if (parent !== undefined) (parent.threads ??= []).push(childTid);
      return;
    }
    this.threadGroup.set(childTid, childTid);
    this.exitedThreads.delete(childTid);
    // The pid's previous process stays the parent of what it forked (kept with the gone).
    this.exited.delete(childTid);
    const displaced = this.live.get(childTid);
    if (displaced !== undefined) this.bury(displaced);
    const child = blank(childTid, parentPid, parent?.cwd, parent?.uid, timeMs);
    if (parent !== undefined && !this.forgotten.has(parent)) this.parentOfProcess.set(child, parent);
    child.foreignMounts = newMountNamespace || parent?.foreignMounts === true;
    if (parent !== undefined) {
      child.forkedBy = { exe: parent.exe, verifiedExe: parent.verifiedExe };
      child.exe = parent.exe;
      child.verifiedExe = parent.verifiedExe;
      child.argv = parent.argv;
      child.argvTruncated = parent.argvTruncated;
      if (parent.fds !== undefined) child.fds = new Map(parent.fds);
    }
    this.live.set(childTid, child);
  }

  exec(pid: number, exe: string, argv: readonly string[], argvTruncated: boolean, timeMs: number, verifiedExe?: string | null): void {
    const p = this.live.get(pid);
    if (p === undefined) return;
    p.exe = exe;
    p.verifiedExe = verifiedExe;
    p.argv = argv;
    p.argvTruncated = argvTruncated;
    p.execed = true;
    p.startMs ??= timeMs;
  }

  /** The process left Tripline's mount namespace. */
  leaveMountNamespace(pid: number): void {
    const p = this.live.get(pid);
    if (p !== undefined) p.foreignMounts = true;
  }

  /** Whether the process is (or may be) in a mount namespace other than Tripline's. */
  inForeignMounts(pid: number): boolean {
    return (this.live.get(pid) ?? this.exited.get(pid))?.foreignMounts === true;
  }

  setCwd(pid: number, cwd: string): void {
    const p = this.live.get(pid);
    if (p !== undefined) p.cwd = cwd;
  }

  setUid(pid: number, uid: number): void {
    const p = this.live.get(pid);
    if (p !== undefined) p.uid = uid;
  }

  /** Remembers what an fd refers to, for /proc/<pid>/fd/N resolution; only procfs paths are kept. */
  noteFd(pid: number, fd: number, path: string): void {
    const p = this.live.get(pid);
    if (p === undefined) return;
    if (!path.startsWith('/proc/')) {
      // The number now names something else: forget what it named before.
      p.fds?.delete(fd);
      return;
    }
    p.fds ??= new Map();
    p.fds.delete(fd);
    p.fds.set(fd, path);
    if (p.fds.size > this.fdCapacity) {
      const oldest = p.fds.keys().next();
      if (oldest.done !== true) p.fds.delete(oldest.value);
    }
  }

  /**
   * Remembers a symlink (or a mount) whose target lies on procfs: the only links that can lead
   * into a watched tree. Links inside /proc itself are the magic links, resolved without this.
   */
  learnSymlink(linkPath: string, target: string): void {
    const onProc = target === '/proc' || target.startsWith('/proc/');
    if (linkPath === target || !onProc || linkPath === '/proc' || linkPath.startsWith('/proc/')) return;
    this.symlinks.delete(linkPath);
    this.symlinks.set(linkPath, target);
    if (this.symlinks.size > this.symlinkCapacity) {
      const oldest = this.symlinks.keys().next();
      if (oldest.done !== true) this.symlinks.delete(oldest.value);
    }
  }

  exit(pid: number, timeMs: number, exitCode: number | undefined, signal: string | undefined): void {
    const p = this.live.get(pid);
    if (p === undefined) return;
    p.exitMs = timeMs;
    p.exitCode = exitCode;
    p.exitSignal = signal;
    p.fds = undefined;
    this.live.delete(pid);
    this.exited.set(pid, p);
    for (const tid of [pid, ...(p.threads ?? [])]) {
      this.threadGroup.delete(tid);
      this.exitedThreads.set(tid, pid);
    }
    p.threads = undefined;
    while (this.exitedThreads.size > this.exitedCapacity * 4) {
      const oldest = this.exitedThreads.keys().next();
      if (oldest.done === true) break;
      this.exitedThreads.delete(oldest.value);
    }
    this.bury(p);
  }

  /** Keeps a process that exited (or lost its pid) for ancestry, forgetting the oldest past the capacity. */
  private bury(p: MutableProcess): void {
    this.gone.delete(p);
    this.gone.add(p);
    while (this.gone.size > this.exitedCapacity) {
      const oldest = this.gone.values().next();
      if (oldest.done === true) break;
      const old = oldest.value;
      this.gone.delete(old);
      if (this.exited.get(old.pid) === old) this.exited.delete(old.pid);
      // Its own link up is dropped: a forgotten process holds no chain of ancestors in memory.
      this.forgotten.add(old);
      this.parentOfProcess.delete(old);
    }
  }

  isLive(pid: number): boolean {
    return this.live.has(pid);
  }

  livePids(): number[] {
    return [...this.live.keys()];
  }

  // LinkResolver
  cwdOf(pid: number): string | undefined {
    return this.get(pid)?.cwd;
  }

  /** chroot is not traced: every process is taken to share the tracer's root. */
  rootOf(): string | undefined {
    return '/';
  }

  fdOf(pid: number, fd: number): string | undefined {
    return (this.live.get(pid) ?? this.exited.get(pid))?.fds?.get(fd);
  }

  symlinkAt(path: string): string | undefined {
    return this.symlinks.get(path);
  }
}

function blank(pid: number, ppid: number | undefined, cwd: string | undefined, uid: number | undefined, startMs: number | undefined): MutableProcess {
  return {
    pid, ppid, exe: undefined, verifiedExe: undefined, foreignMounts: false, argv: [], argvTruncated: false, cwd, uid, startMs,
    exitMs: undefined, exitCode: undefined, exitSignal: undefined, execed: false, fds: undefined, threads: undefined,
  };
}
