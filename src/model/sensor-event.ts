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
  /** The directory the path is relative to: an explicit dirfd, or AT_FDCWD with the cwd if known. */
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

/** A successful mount(2): a procfs mounted elsewhere, or a bind mount, makes a second way into /proc. */
export interface MountEvent {
  readonly kind: 'mount';
  readonly timeMs: TimeMs;
  readonly tid: number;
  readonly source: string | undefined;
  readonly target: string;
  readonly fstype: string | undefined;
  readonly bind: boolean;
}

/**
 * A process left Tripline's mount namespace (unshare or clone with CLONE_NEWNS, setns): paths
 * it sees may name other files than Tripline's, so its executable path proves nothing by itself.
 */
export interface MountNamespaceEvent {
  readonly kind: 'mount-namespace';
  readonly timeMs: TimeMs;
  readonly tid: number;
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

export type SensorEvent = ExecEvent | ForkEvent | ExitEvent | CwdEvent | UidEvent | AccessEvent | MountEvent | MountNamespaceEvent | SymlinkEvent | SensorLossEvent;
