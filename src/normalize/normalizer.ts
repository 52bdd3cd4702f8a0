// Normalization: keeps the process table current and turns each sensor access into a
// FileAccess on one canonical path, whatever spelling, dirfd, cwd or link the process used.

import type { FileAccess, NormalizedEvent } from '../model/file-access.ts';
import type { FileSystemProbe } from '../model/file-system-probe.ts';
import type { AccessEvent, MountEvent, SensorEvent, SymlinkEvent } from '../model/sensor-event.ts';
import { isUnder, parentDirectory } from '../model/canonical-path.ts';
import { canonicalizePath } from './path-canonicalizer.ts';
import { ProcessTable } from './process-table.ts';

export interface NormalizerOptions {
  /** The cwd the monitored root starts in (tripline's own for `run`). */
  readonly initialCwd: string;
  readonly initialUid?: number;
  /** Only accesses at or below these canonical roots are passed on (the engine's watched roots). */
  readonly roots: readonly string[];
  /** Live look-ups for what the trace lacks; without one, nothing is guessed. */
  readonly probe?: FileSystemProbe;
}

export interface NormalizerStats {
  /** Accesses whose base directory was unknown (an fd never seen), so no canonical path could be made. */
  unresolvable: number;
}

const DIRECTORY_CACHE = 4096;

export class Normalizer {
  readonly processes = new ProcessTable();
  readonly stats: NormalizerStats = { unresolvable: 0 };
  private readonly options: NormalizerOptions;
  private roots: readonly string[];
  private readonly directoryCache = new Map<string, boolean | undefined>();

  constructor(options: NormalizerOptions) {
    this.roots = options.roots;
    this.options = options;
  }

  /** Watches other roots from now on (the recipes were reloaded); the process table is kept. */
  setRoots(roots: readonly string[]): void {
    this.roots = roots;
  }

  ingest(event: SensorEvent): NormalizedEvent | undefined {
    const table = this.processes;
    switch (event.kind) {
      case 'fork':
        this.pidOf(event.parentTid, event.timeMs);
        table.fork(event.parentTid, event.childTid, event.thread, event.timeMs, event.newMountNamespace === true);
        return undefined;
      case 'exec': {
        const pid = this.pidOf(event.tid, event.timeMs);
        const base = this.baseFor(pid, event.base);
        const exe = base === undefined ? event.path : canonicalizePath(event.path, base, { pid, tid: event.tid, links: table });
        // The file really run (/sbin/x on a merged /usr is /usr/sbin/x), verified live so that an
        // exception anchored on an executable cannot be met by a look-alike path: the sensor's own
        // check at exec time when it made one, else one now.
        const probe = this.options.probe;
        let verified = event.verifiedExe !== undefined ? event.verifiedExe : probe?.verifiedExecutable(pid, exe);
        // Gone before it could be checked (a quick program under ptrace, whose trace is read a
        // little later): in Tripline's own mount namespace the path names the file that ran, so
        // its physical path stands. Never for a process that left the namespace (a bind mount there).
        if (verified === undefined && event.verifiedExe === undefined && exe.startsWith('/') && !table.inForeignMounts(pid)) verified = probe?.realpath(exe);
        table.exec(pid, exe, event.argv, event.argvTruncated, event.timeMs, probe === undefined && event.verifiedExe === undefined ? undefined : (verified ?? null));
        return undefined;
      }
      case 'exit': {
        const pid = this.pidOf(event.tid, event.timeMs);
        table.exit(pid, event.timeMs, event.exitCode, event.signal);
        return { kind: 'process-exited', timeMs: event.timeMs, pid };
      }
      case 'cwd': {
        const pid = this.pidOf(event.tid, event.timeMs);
        if (event.fd?.path !== undefined) {
          table.setCwd(pid, event.fd.path);
        } else if (event.fd !== undefined && typeof event.fd.fd === 'number') {
          const path = table.fdOf(pid, event.fd.fd);
          if (path !== undefined) table.setCwd(pid, path);
        } else if (event.path !== undefined) {
          const base = table.cwdOf(pid) ?? this.options.initialCwd;
          table.setCwd(pid, canonicalizePath(event.path, base, { pid, tid: event.tid, links: table }));
        }
        return undefined;
      }
      case 'uid':
        table.setUid(this.pidOf(event.tid, event.timeMs), event.uid);
        return undefined;
      case 'access':
        return this.access(event);
      case 'mount':
        this.mount(event);
        return undefined;
      case 'mount-namespace':
        table.leaveMountNamespace(this.pidOf(event.tid, event.timeMs));
        return undefined;
      case 'symlink':
        this.symlink(event);
        return undefined;
      case 'sensor-loss':
        // The pipeline gives these to the engine; nothing to normalize.
        return undefined;
    }
  }

  /** A thread never seen before and not announced by a fork is the root (the first) or an orphan. */
  private pidOf(tid: number, timeMs: number): number {
    const defaults = this.processes.root === undefined
      ? { cwd: this.options.initialCwd, timeMs, ...(this.options.initialUid === undefined ? {} : { uid: this.options.initialUid }) }
      : { timeMs };
    return this.processes.pidOf(tid, defaults);
  }

  /** The canonical directory a relative path is resolved against. */
  private baseFor(pid: number, base: AccessEvent['base']): string | undefined {
    if (base === undefined || base.fd === 'AT_FDCWD') {
      if (base?.path !== undefined) {
        // The kernel's own view of the cwd: the most reliable source, so keep the table in step.
        this.processes.setCwd(pid, base.path);
        return base.path;
      }
      return this.processes.cwdOf(pid) ?? this.options.initialCwd;
    }
    return base.path ?? this.processes.fdOf(pid, base.fd);
  }

  /** A procfs mounted at another place, or a bind mount of part of /proc, is a second name for it. */
  private mount(event: MountEvent): void {
    const pid = this.pidOf(event.tid, event.timeMs);
    const table = this.processes;
    const cwd = table.cwdOf(pid) ?? this.options.initialCwd;
    const target = canonicalizePath(event.target, cwd, { pid, tid: event.tid, links: table });
    if (event.fstype === 'proc') table.learnSymlink(target, '/proc');
    else if (event.bind && event.source !== undefined) {
      table.learnSymlink(target, canonicalizePath(event.source, cwd, { pid, tid: event.tid, links: table }));
    }
  }

  /** A symlink made during the run is known before anything uses it, even by stat alone. */
  private symlink(event: SymlinkEvent): void {
    const pid = this.pidOf(event.tid, event.timeMs);
    const base = this.baseFor(pid, event.base);
    if (base === undefined && !event.linkPath.startsWith('/')) return;
    const ctx = { pid, tid: event.tid, links: this.processes };
    const link = canonicalizePath(event.linkPath, base ?? '/', ctx, false);
    this.processes.learnSymlink(link, canonicalizePath(event.target, parentDirectory(link), ctx));
  }

  private access(event: AccessEvent): FileAccess | undefined {
    const table = this.processes;
    const pid = this.pidOf(event.tid, event.timeMs);
    const base = this.baseFor(pid, event.base);
    let spelled: string | undefined;
    if (event.path !== undefined) {
      if (base === undefined && !event.path.startsWith('/')) {
        if (event.resolvedPath === undefined) {
          this.stats.unresolvable++;
          return undefined;
        }
      } else {
        spelled = canonicalizePath(event.path, base ?? '/', { pid, tid: event.tid, links: table }, event.noFollow !== true);
      }
    }
    // The kernel's path wins; it is already physical, but a procfs mounted elsewhere or a bind
    // mount still needs mapping back to /proc.
    const resolved = event.resolvedPath !== undefined && table.hasSymlinks
      ? canonicalizePath(event.resolvedPath, '/', { pid, tid: event.tid, links: table })
      : event.resolvedPath;
    const path = resolved ?? spelled;
    if (path === undefined) return undefined;
    if (spelled !== undefined && resolved !== undefined && spelled !== resolved && isOnProc(resolved) && !isOnProc(spelled)) {
      this.learnLinkOnTheWay(spelled);
    }
    if (event.linkTarget !== undefined && spelled !== undefined) {
      table.learnSymlink(spelled, canonicalizePath(event.linkTarget, parentDirectory(spelled), { pid, tid: event.tid, links: table }));
    }
    if (event.returnedFd !== undefined && event.resolvedPath !== undefined) {
      table.noteFd(pid, event.returnedFd, event.resolvedPath);
    }
    if (!this.roots.some((root) => isUnder(path, root))) return undefined;
    let isDirectory = event.isDirectory;
    // access(2) never says what it checked, nor does a stat the eBPF sensor saw: ask once.
    if (isDirectory === undefined && (event.action === 'access' || event.action === 'stat') && event.error === undefined) {
      isDirectory = this.probeDirectory(path);
    }
    return {
      kind: 'file-access',
      timeMs: event.timeMs,
      pid,
      tid: event.tid,
      syscall: event.syscall,
      action: event.action,
      path,
      ...(event.path !== undefined && trimSlashes(event.path) !== path ? { spelled: event.path } : {}),
      ...(event.error === undefined ? {} : { error: event.error }),
      ...(isDirectory === undefined ? {} : { isDirectory }),
    };
  }

  /**
   * The process reached /proc through some link or mount outside it that the trace did not show
   * being made: find the first component that leads elsewhere and remember it, so later calls
   * that return no fd (stat, access) through it resolve too.
   */
  private learnLinkOnTheWay(spelled: string): void {
    const probe = this.options.probe;
    if (probe === undefined) return;
    const parts = spelled.split('/');
    for (let i = 2; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const real = probe.realpath(prefix);
      if (real === undefined) return;
      if (real !== prefix) {
        this.processes.learnSymlink(prefix, real);
        return;
      }
    }
  }

  /** access(2) does not say what it checked; ask the filesystem once per path. */
  private probeDirectory(path: string): boolean | undefined {
    const probe = this.options.probe;
    if (probe === undefined) return undefined;
    if (this.directoryCache.has(path)) return this.directoryCache.get(path);
    const answer = probe.isDirectory(path);
    if (this.directoryCache.size >= DIRECTORY_CACHE) this.directoryCache.clear();
    this.directoryCache.set(path, answer);
    return answer;
  }
}

function isOnProc(path: string): boolean {
  return path === '/proc' || path.startsWith('/proc/');
}

/** A spelling that differs only by trailing slashes is not worth reporting as another spelling. */
function trimSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}
