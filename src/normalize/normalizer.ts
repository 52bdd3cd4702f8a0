// Normalization: keeps the process table current and turns each sensor access into a
// FileAccess on one canonical path, whatever spelling, dirfd, cwd or link the process used.

import type { FileAccess, NormalizedEvent } from '../model/file-access.ts';
import type { FileSystemProbe } from '../model/file-system-probe.ts';
import type { AccessEvent, DetachedMountEvent, MountEvent, SensorEvent, SymlinkEvent } from '../model/sensor-event.ts';
import { isUnder, parentDirectory } from '../model/canonical-path.ts';
import { NamespaceTable } from './namespace-table.ts';
import { canonicalizePath, joinComponents, type CanonicalContext, type LinkResolver } from './path-canonicalizer.ts';
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
  /**
   * Paths that named /proc/<N> of another pid namespace's procfs where the trace never showed
   * which process has number N there (nested namespaces, setns, a sensor that does not translate
   * pids): what lies behind /proc/<N>/cwd, root or fd is then unknown.
   */
  readonly unmappedPids: number;
  /** Accesses under a detached mount of an unknown filesystem (fsmount of a context never seen). */
  detachedUnknown: number;
}

const DIRECTORY_CACHE = 4096;
/** Detached-mount fds remembered per process. */
const DETACHED_FDS = 64;
/** Mount points unmounted or moved away, remembered so a link learned there is no longer followed. */
const UNMOUNTED = 256;

/** Per process: fd → the canonical path the root of its detached mount stands for (undefined: unknown filesystem). */
type DetachedFds = Map<number, { root: string | undefined; pidNs: number | undefined }>;

export class Normalizer {
  readonly processes = new ProcessTable();
  readonly namespaces = new NamespaceTable();
  readonly stats: NormalizerStats;
  private readonly options: NormalizerOptions;
  private roots: readonly string[];
  private readonly directoryCache = new Map<string, boolean | undefined>();
  /** fds of detached mounts (open_tree, fsmount) and of what was opened under them. */
  private readonly detached = new Map<number, DetachedFds>();
  /** fsopen contexts: pid → fd → filesystem type. */
  private readonly fsContexts = new Map<number, Map<number, string>>();
  /** Processes whose cwd lies under a detached mount (fchdir to one): the root it stands for. */
  private readonly detachedCwd = new Map<number, { root: string | undefined; pidNs: number | undefined }>();
  /** Mount points whose procfs (or bind mount of /proc) was unmounted or moved elsewhere. */
  private readonly unmounted = new Set<string>();
  /** The process table's links, less the mounts taken away. */
  private readonly links: LinkResolver;

  constructor(options: NormalizerOptions) {
    this.roots = options.roots;
    this.options = options;
    const namespaces = this.namespaces;
    const processes = this.processes;
    const unmounted = this.unmounted;
    this.links = {
      cwdOf: (pid) => processes.cwdOf(pid),
      rootOf: () => processes.rootOf(),
      fdOf: (pid, fd) => processes.fdOf(pid, fd),
      symlinkAt: (path) => (unmounted.has(path) ? undefined : processes.symlinkAt(path)),
      get hasSymlinks() {
        return processes.hasSymlinks;
      },
    };
    this.stats = {
      unresolvable: 0,
      detachedUnknown: 0,
      get unmappedPids() {
        return namespaces.unmapped;
      },
    };
  }

  /** How `pid` resolves paths: its links, and the pid namespaces of the procfs it walks. */
  private ctx(pid: number, tid: number): CanonicalContext {
    return { pid, tid, links: this.links, pids: this.namespaces };
  }

  /** Watches other roots from now on (the recipes were reloaded); the process table is kept. */
  setRoots(roots: readonly string[]): void {
    this.roots = roots;
  }

  ingest(event: SensorEvent): NormalizedEvent | undefined {
    const table = this.processes;
    switch (event.kind) {
      case 'fork': {
        const parent = this.pidOf(event.parentTid, event.timeMs);
        table.fork(event.parentTid, event.childTid, event.thread, event.timeMs, event.newMountNamespace === true);
        if (!event.thread) {
          this.namespaces.fork(parent, event.childTid, {
            ...(event.newPidNamespace === true ? { newPidNamespace: true } : {}),
            ...(event.newMountNamespace === true ? { newMountNamespace: true } : {}),
            ...(event.childNsPid === undefined ? {} : { childNsPid: event.childNsPid }),
          });
          // The child inherits its parent's fds, detached mounts among them, and its cwd.
          const fds = this.detached.get(parent);
          if (fds === undefined) this.detached.delete(event.childTid);
          else this.detached.set(event.childTid, new Map(fds));
          const cwd = this.detachedCwd.get(parent);
          if (cwd === undefined) this.detachedCwd.delete(event.childTid);
          else this.detachedCwd.set(event.childTid, cwd);
          this.fsContexts.delete(event.childTid);
        }
        return undefined;
      }
      case 'exec': {
        const pid = this.pidOf(event.tid, event.timeMs);
        const base = this.baseFor(pid, event.base);
        const exe = base === undefined ? event.path : canonicalizePath(event.path, base, this.ctx(pid, event.tid));
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
        this.namespaces.exit(pid);
        this.detached.delete(pid);
        this.detachedCwd.delete(pid);
        this.fsContexts.delete(pid);
        return { kind: 'process-exited', timeMs: event.timeMs, pid };
      }
      case 'cwd': {
        const pid = this.pidOf(event.tid, event.timeMs);
        const under = event.fd !== undefined && typeof event.fd.fd === 'number' ? this.detached.get(pid)?.get(event.fd.fd) : undefined;
        if (under !== undefined) {
          // fchdir into a detached mount: the kernel names the cwd from that mount's root from now on.
          this.detachedCwd.set(pid, under);
          if (under.root !== undefined && event.fd?.path !== undefined) table.setCwd(pid, rebase(under.root, event.fd.path));
          return undefined;
        }
        if (event.fd !== undefined || event.path === undefined || event.path.startsWith('/')) this.detachedCwd.delete(pid);
        if (event.fd?.path !== undefined) {
          table.setCwd(pid, event.fd.path);
        } else if (event.fd !== undefined && typeof event.fd.fd === 'number') {
          const path = table.fdOf(pid, event.fd.fd);
          if (path !== undefined) table.setCwd(pid, path);
        } else if (event.path !== undefined) {
          const base = table.cwdOf(pid) ?? this.options.initialCwd;
          table.setCwd(pid, canonicalizePath(event.path, base, this.ctx(pid, event.tid)));
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
      case 'namespace': {
        const pid = this.pidOf(event.tid, event.timeMs);
        if (event.mount) table.leaveMountNamespace(pid);
        this.namespaces.enter(pid, event);
        return undefined;
      }
      case 'detached-mount':
        this.detachedMount(event);
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
      const detached = this.detachedCwd.get(pid);
      if (detached !== undefined) {
        if (detached.root === undefined) return undefined;
        if (base?.path === undefined) return this.processes.cwdOf(pid);
        const cwd = rebase(detached.root, base.path);
        this.processes.setCwd(pid, cwd);
        return cwd;
      }
      if (base?.path !== undefined) {
        // The kernel's own view of the cwd: the most reliable source, so keep the table in step.
        this.processes.setCwd(pid, base.path);
        return base.path;
      }
      return this.processes.cwdOf(pid) ?? this.options.initialCwd;
    }
    const detached = this.detached.get(pid)?.get(base.fd);
    if (detached !== undefined) {
      // The kernel names an fd under a detached mount from that mount's root.
      return detached.root === undefined || base.path === undefined ? undefined : rebase(detached.root, base.path);
    }
    return base.path ?? this.processes.fdOf(pid, base.fd);
  }

  /** The detached mount the call's base lies under (its dirfd, or its cwd), if any. */
  private detachedBase(pid: number, base: AccessEvent['base']): { root: string | undefined; pidNs: number | undefined } | undefined {
    if (base === undefined || base.fd === 'AT_FDCWD') return this.detachedCwd.get(pid);
    return this.detached.get(pid)?.get(base.fd);
  }

  private noteDetached(pid: number, fd: number, entry: { root: string | undefined; pidNs: number | undefined }): void {
    let fds = this.detached.get(pid);
    if (fds === undefined) {
      fds = new Map();
      this.detached.set(pid, fds);
    }
    fds.delete(fd);
    fds.set(fd, entry);
    if (fds.size > DETACHED_FDS) {
      const oldest = fds.keys().next();
      if (oldest.done !== true) fds.delete(oldest.value);
    }
  }

  /** open_tree(OPEN_TREE_CLONE), fsopen and fsmount: fds whose kernel paths start at a detached root. */
  private detachedMount(event: DetachedMountEvent): void {
    const pid = this.pidOf(event.tid, event.timeMs);
    if (event.context === true) {
      let contexts = this.fsContexts.get(pid);
      if (contexts === undefined) {
        contexts = new Map();
        this.fsContexts.set(pid, contexts);
      }
      if (contexts.size >= DETACHED_FDS) contexts.clear();
      contexts.set(event.fd, event.fstype ?? '');
      return;
    }
    if (event.sourcePath !== undefined) {
      // A copy of the mount at the source: the same files, and the same procfs if it is one.
      const base = this.baseFor(pid, event.base);
      if (base === undefined && !event.sourcePath.startsWith('/')) {
        this.noteDetached(pid, event.fd, { root: undefined, pidNs: undefined });
        return;
      }
      const root = canonicalizePath(event.sourcePath, base ?? '/', this.ctx(pid, event.tid));
      const pidNs = root === '/proc' ? this.namespaces.procfsNamespace(pid, '/proc') : undefined;
      this.noteDetached(pid, event.fd, { root, pidNs });
      return;
    }
    // fsmount of an fsopen context: a new filesystem; a procfs shows the pids of the namespace that made the context.
    const context = typeof event.base?.fd === 'number' ? this.fsContexts.get(pid)?.get(event.base.fd) : undefined;
    const isProc = context === 'proc';
    this.noteDetached(pid, event.fd, { root: isProc ? '/proc' : undefined, pidNs: isProc ? this.namespaces.pidNamespaceOf(pid) : undefined });
  }

  /**
   * A procfs mounted at another place, a bind mount of part of /proc, or a mount moved or attached
   * there, is a second name for it; an unmount takes the name away. Mount points are not followed
   * as links: a mount over a procfs mount point is a mount at that point.
   */
  private mount(event: MountEvent): void {
    const pid = this.pidOf(event.tid, event.timeMs);
    const table = this.processes;
    const cwd = table.cwdOf(pid) ?? this.options.initialCwd;
    const ctx = this.ctx(pid, event.tid);
    const target = canonicalizePath(event.target, cwd, ctx, false);
    if (event.unmount === true) {
      this.forget(target);
      this.namespaces.unmount(pid, target);
      return;
    }
    if (event.sourceFd !== undefined) {
      // A detached mount attached at `target`.
      const detached = typeof event.sourceFd.fd === 'number' ? this.detached.get(pid)?.get(event.sourceFd.fd) : undefined;
      if (detached?.root !== undefined) {
        this.learn(target, detached.root);
        if (detached.root === '/proc') this.namespaces.attachProcfs(pid, target, detached.pidNs);
      }
      return;
    }
    if (event.fstype === 'proc') {
      this.learn(target, '/proc');
      this.namespaces.mountProcfs(pid, target);
    } else if ((event.bind || event.move === true) && event.source !== undefined) {
      const sourcePoint = canonicalizePath(event.source, cwd, ctx, false);
      const source = canonicalizePath(event.source, cwd, ctx);
      this.learn(target, source);
      this.namespaces.copyProcfs(pid, sourcePoint, target, event.move === true);
      // What was mounted at the source is there no more.
      if (event.move === true) this.forget(sourcePoint);
    }
  }

  /** A link or mount learned at `path`: followed from now on, even where a mount was taken away before. */
  private learn(path: string, target: string): void {
    this.unmounted.delete(path);
    this.processes.learnSymlink(path, target);
  }

  /** A mount at `path` was taken away (unmounted, or moved elsewhere): no longer a way into /proc. */
  private forget(path: string): void {
    if (this.processes.symlinkAt(path) === undefined) return;
    this.unmounted.delete(path);
    this.unmounted.add(path);
    if (this.unmounted.size > UNMOUNTED) {
      const oldest = this.unmounted.values().next();
      if (oldest.done !== true) this.unmounted.delete(oldest.value);
    }
  }

  /** A symlink made during the run is known before anything uses it, even by stat alone. */
  private symlink(event: SymlinkEvent): void {
    const pid = this.pidOf(event.tid, event.timeMs);
    const base = this.baseFor(pid, event.base);
    if (base === undefined && !event.linkPath.startsWith('/')) return;
    const ctx = this.ctx(pid, event.tid);
    const link = canonicalizePath(event.linkPath, base ?? '/', ctx, false);
    this.learn(link, canonicalizePath(event.target, parentDirectory(link), ctx));
  }

  private access(event: AccessEvent): FileAccess | undefined {
    const table = this.processes;
    const pid = this.pidOf(event.tid, event.timeMs);
    const ctx = this.ctx(pid, event.tid);
    const base = this.baseFor(pid, event.base);
    const detached = this.detachedBase(pid, event.base);
    if (detached !== undefined && detached.root === undefined && (event.path === undefined || !event.path.startsWith('/'))) {
      // Under a detached mount of a filesystem never seen being made: its paths mean nothing here.
      this.stats.detachedUnknown++;
      return undefined;
    }
    let spelled: string | undefined;
    if (event.path !== undefined) {
      if (base === undefined && !event.path.startsWith('/')) {
        if (event.resolvedPath === undefined) {
          this.stats.unresolvable++;
          return undefined;
        }
      } else {
        spelled = canonicalizePath(event.path, base ?? '/', ctx, event.noFollow !== true);
      }
    }
    let kernelPath = event.resolvedPath;
    let opensUnderDetached = false;
    if (detached?.root !== undefined && kernelPath !== undefined) {
      if (event.path === undefined) {
        // A call on the detached fd (or one opened under it) alone: the kernel's path starts at the detached root.
        kernelPath = rebase(detached.root, kernelPath);
        opensUnderDetached = true;
      } else if (!event.path.startsWith('/') && spelled !== undefined && spelled === canonicalizePath(rebase(detached.root, kernelPath), '/', ctx)) {
        // Relative to the detached mount and still inside it (a magic link would have led elsewhere, named normally).
        kernelPath = rebase(detached.root, kernelPath);
        opensUnderDetached = true;
      } else if (!event.path.startsWith('/')) {
        kernelPath = undefined; // left the detached mount through a link: the spelled resolution stands
      }
    }
    // The kernel's path wins; it is already physical, but a procfs mounted elsewhere or a bind
    // mount still needs mapping back to /proc.
    const resolved = kernelPath !== undefined && table.hasSymlinks
      ? canonicalizePath(kernelPath, '/', ctx)
      : kernelPath;
    const path = resolved ?? spelled;
    if (path === undefined) return undefined;
    if (spelled !== undefined && resolved !== undefined && spelled !== resolved && isOnProc(resolved) && !isOnProc(spelled)) {
      this.learnLinkOnTheWay(spelled);
    }
    if (event.linkTarget !== undefined && spelled !== undefined) {
      this.learn(spelled, canonicalizePath(event.linkTarget, parentDirectory(spelled), ctx));
    }
    if (event.returnedFd !== undefined && event.resolvedPath !== undefined) {
      // An fd opened under a detached mount is under it too: its kernel path starts at the same root.
      if (opensUnderDetached && detached !== undefined) this.noteDetached(pid, event.returnedFd, detached);
      else this.detached.get(pid)?.delete(event.returnedFd);
      table.noteFd(pid, event.returnedFd, resolved ?? event.resolvedPath);
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
        this.learn(prefix, real);
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

/** A kernel path under a detached mount ("/sys/net") as the path its root stands for ("/proc/sys/net"). */
function rebase(root: string, kernelPath: string): string {
  const rest = kernelPath.split('/').filter((c) => c !== '');
  return joinComponents([...root.split('/').filter((c) => c !== ''), ...rest]);
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
