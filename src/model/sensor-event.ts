// What sensors report, before any interpretation: raw paths as the process spelled them,
// with whatever the kernel told the sensor about them (dirfd and cwd paths, returned fds).

/** Microsecond-precise wall-clock time in milliseconds since the Unix epoch. */
export type TimeMs = number;

/**
 * How a process touched a path. `write` is an open for writing only (O_WRONLY, creat);
 * `readwrite` an open for both (O_RDWR), which reads as much as a plain read.
 */
export type AccessAction = 'read' | 'readwrite' | 'write' | 'stat' | 'access' | 'list' | 'readlink';

/** A directory file descriptor argument: its number (or AT_FDCWD) and the path the kernel gave for it. */
export interface FdRef {
  readonly fd: number | 'AT_FDCWD';
  readonly path?: string;
}

export interface ExecEvent {
  readonly kind: 'exec';
  readonly timeMs: TimeMs;
  readonly tid: number;
  /** The path passed to execve, as spelled. */
  readonly path: string;
  readonly base?: FdRef;
  readonly argv: readonly string[];
  readonly argvTruncated: boolean;
  /**
   * What the sensor verified the process runs, close to the exec: the canonical path whose file
   * is the running executable; null when checked and not verifiable. Absent when not checked.
   */
  readonly verifiedExe?: string | null;
}

export interface ForkEvent {
  readonly kind: 'fork';
  readonly timeMs: TimeMs;
  readonly parentTid: number;
  readonly childTid: number;
  /** CLONE_THREAD: the child is a thread of the parent's process. */
  readonly thread: boolean;
  /** CLONE_FS: the child shares the parent's cwd. */
  readonly sharesFs: boolean;
  /** CLONE_NEWNS: the child starts in a mount namespace of its own. */
  readonly newMountNamespace?: boolean;
  /** CLONE_NEWPID: the child is the first process (pid 1) of a pid namespace of its own. */
  readonly newPidNamespace?: boolean;
  /**
   * The child's pid as its parent's pid namespace numbers it, when the sensor saw it differ from
   * `childTid` (which is always the pid in Tripline's namespace).
   */
  readonly childNsPid?: number;
}

export interface ExitEvent {
  readonly kind: 'exit';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly coreDumped?: boolean;
}

export interface CwdEvent {
  readonly kind: 'cwd';
  readonly timeMs: TimeMs;
  readonly tid: number;
  /** chdir's argument, or undefined for fchdir. */
  readonly path?: string;
  /** For fchdir: the fd with the kernel's path for it. */
  readonly fd?: FdRef;
}

export interface UidEvent {
  readonly kind: 'uid';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly uid: number;
}

export interface AccessEvent {
  readonly kind: 'access';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly syscall: string;
  readonly action: AccessAction;
  /** The path argument as spelled; undefined when the call names only an fd (getdents, fstat). */
  readonly path?: string;
  /**
   * The directory the path is relative to: an explicit dirfd, or AT_FDCWD with the cwd if known;
   * for a call on an fd alone (getdents, fstatfs), that fd.
   */
  readonly base?: FdRef;
  /** The kernel's own resolution of what was opened (the returned or operated-on fd's path). */
  readonly resolvedPath?: string;
  /** Undefined on success, else the errno name (ENOENT, EACCES, ...). */
  readonly error?: string;
  /** True or false when the call revealed whether the target is a directory. */
  readonly isDirectory?: boolean;
  /** For readlink: the link's target as returned. */
  readonly linkTarget?: string;
  /** The fd number an open returned. */
  readonly returnedFd?: number;
  /** The call does not follow a symlink in the last component (lstat, readlink, AT_SYMLINK_NOFOLLOW). */
  readonly noFollow?: boolean;
}

/**
 * A successful mount(2), move_mount(2) or umount2(2): a procfs mounted elsewhere, a bind mount
 * or a moved mount makes a second way into /proc; an unmount takes one away.
 */
export interface MountEvent {
  readonly kind: 'mount';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly source: string | undefined;
  /** For move_mount from an fd: the fd (a detached mount of open_tree or fsmount) and the kernel's path for it. */
  readonly sourceFd?: FdRef;
  readonly target: string;
  readonly fstype: string | undefined;
  readonly bind: boolean;
  /** MS_MOVE or move_mount: the mount at `source` now sits at `target` instead. */
  readonly move?: boolean;
  /** umount2: whatever was mounted at `target` is gone. */
  readonly unmount?: boolean;
}

/**
 * A detached mount came into being (open_tree with OPEN_TREE_CLONE, fsmount; fsopen makes the
 * context fsmount mounts): the returned fd is
 * the root of a mount attached nowhere, and the kernel names files under it relative to that root
 * (`openat(3</>, "sys/net")` = `4</sys/net>`), not by any path a process could spell.
 */
export interface DetachedMountEvent {
  readonly kind: 'detached-mount';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly fd: number;
  /** open_tree: what was copied, as spelled, relative to `base`. */
  readonly sourcePath?: string;
  readonly base?: FdRef;
  /** fsopen: the filesystem type ("proc") of the context `fd`. */
  readonly fstype?: string;
  /** fsopen: `fd` is a filesystem context, not a mount yet; fsmount gives it as `base`. */
  readonly context?: boolean;
}

/**
 * unshare(2) or setns(2) succeeded. `mount`: the process left its mount namespace (paths it sees
 * may name other files than Tripline's, so its executable path proves nothing by itself).
 * `pidForChildren`: the children it forks from now on start in another pid namespace, a new one
 * (unshare) or one joined whose pids the sensor never saw (`joined`, setns).
 */
export interface NamespaceEvent {
  readonly kind: 'namespace';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly mount: boolean;
  readonly pidForChildren: boolean;
  readonly joined: boolean;
}

/** A successful symlink(2): a link created during the run, whose target may lie in /proc. */
export interface SymlinkEvent {
  readonly kind: 'symlink';
  readonly timeMs: TimeMs;
  readonly tid: number;
  /** The link's content, as given. */
  readonly target: string;
  /** Where the link was created, as spelled. */
  readonly linkPath: string;
  readonly base?: FdRef;
}

/**
 * The sensor could not see everything: `lost` events the kernel dropped (or lines that could
 * not be read) around `timeMs`, or a gap in which nothing was watched (the sensor was down),
 * from `gap.startMs` to `gap.endMs` (null: not over yet). Detections whose subject was live
 * then say their evidence may be incomplete.
 */
export interface SensorLossEvent {
  readonly kind: 'sensor-loss';
  readonly timeMs: TimeMs;
  readonly lost: number;
  readonly gap?: { readonly startMs: TimeMs; readonly endMs: TimeMs | null };
}

export type SensorEvent = ExecEvent | ForkEvent | ExitEvent | CwdEvent | UidEvent | AccessEvent | MountEvent | NamespaceEvent | DetachedMountEvent | SymlinkEvent | SensorLossEvent;
