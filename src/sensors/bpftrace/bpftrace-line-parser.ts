// Parses the lines tripline.bt prints (one record per line, tab-separated; format in the
// program's header comment) and bpftrace's own "Lost N events" notices.


export interface ReadyRecord {
  readonly type: 'ready';
  readonly ns: bigint;
}

/** tripline's own barrier (access of /proc/sys/net/.tripline-sync) came through. */
export interface SyncRecord {
  readonly type: 'sync';
  readonly ns: bigint;
}

/** The program's heartbeat: time goes on even when nothing is traced. */
export interface TickRecord {
  readonly type: 'tick';
  readonly ns: bigint;
}

export interface ExecRecord {
  readonly type: 'exec';
  readonly ns: bigint;
  readonly tgid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly oldTid: number;
  /** The process's start (CLOCK_MONOTONIC ns). */
  readonly startNs: bigint;
  /** The kernel's exec count of the process after this exec (self_exec_id). */
  readonly execId: number;
  /** The running file: its filesystem's kernel dev_t (MAJOR<<20|MINOR) and inode. */
  readonly exeDev: number;
  readonly exeIno: bigint;
  readonly comm: string;
  readonly filename: string;
  /** Size of the argv area, and its first bytes (ARGV lines bring more). */
  readonly argLength: number;
  readonly argBytes: Buffer;
  /** The filename is whole (the compiled sensor's are); else it may be cut at PATH_LIMIT bytes. */
  readonly filenameWhole?: boolean;
  /**
   * The process's cgroup v2 id at exec (the inode of its directory on the cgroup2 mount), read in
   * the kernel, so its container is known even when it and its cgroup are gone; 0n: none (no
   * unified hierarchy), absent: not given.
   */
  readonly cgroupId?: bigint;
  /**
   * The names of that cgroup's directory and of its parent (the compiled sensor reads them in
   * the kernel; bpftrace's program does not): the container's cgroup path ends with
   * `/PARENT/LEAF` even when its directory is gone before the id is looked up.
   */
  readonly cgroupLeaf?: string;
  readonly cgroupParent?: string;
  /**
   * The cgroup's depth (the root is 0) and the name of its directory at depth 1 (empty deeper
   * than 4): they anchor the names to the root (a delegated subtree can hold any name).
   */
  readonly cgroupLevel?: number;
  readonly cgroupTop?: string;
}

export interface ArgvRecord {
  readonly type: 'argv';
  readonly ns: bigint;
  readonly tgid: number;
  readonly offset: number;
  readonly bytes: Buffer;
}

export interface ForkRecord {
  readonly type: 'fork';
  readonly ns: bigint;
  readonly parentTgid: number;
  readonly parentTid: number;
  readonly childTid: number;
  readonly thread: boolean;
  readonly cloneFlags: bigint;
  /** The parent's start (CLOCK_MONOTONIC ns). */
  readonly parentStartNs: bigint;
  /** The parent's exec count (self_exec_id) when it forked: the image that made the child. */
  readonly parentExecId: number;
  /** The parent's cgroup v2 id as it forked, where the child starts (see ExecRecord.cgroupId). */
  readonly cgroupId?: bigint;
}

export interface ExitRecord {
  readonly type: 'exit';
  readonly ns: bigint;
  readonly tgid: number;
  readonly startNs: bigint;
  /** The exec count of the image that exited. */
  readonly execId: number;
  /** wait(2) status word. */
  readonly status: number;
}

export interface FileRecord {
  readonly type: 'file';
  readonly ns: bigint;
  readonly syscall: string;
  readonly tgid: number;
  /** The process's start (CLOCK_MONOTONIC ns). */
  readonly startNs: bigint;
  /** The process's exec count (self_exec_id): which of its images made the call. */
  readonly execId: number;
  /** -100 is AT_FDCWD; for fchdir and getdents64, the fd itself. */
  readonly dfd: number;
  /** Open flags, access mode or stat flags. */
  readonly arg: number;
  readonly ret: number;
  readonly why: number;
  /** The path argument as given (cut at the program's string length). */
  readonly path: string;
  /** What the names describe: the object ('o'), the base of a relative path ('b'), or nothing ('-'). */
  readonly resolvedKind: 'o' | 'b' | '-';
  /** Components from the procfs root to that dentry; -1 when it is not on procfs. */
  readonly depth: number;
  /** Dentry names, leaf first. */
  readonly names: readonly string[];
  /** Whether the path is whole (the compiled sensor reads up to PATH_MAX); undefined: cut at PATH_LIMIT bytes may be. */
  readonly pathWhole?: boolean;
  /** Recorded when submitted (io_uring): `ret` is not the call's result. */
  readonly resultUnknown?: boolean;
}

export interface LostRecord {
  readonly type: 'lost';
  readonly count: number;
}

export type BpfRecord = ReadyRecord | SyncRecord | TickRecord | ExecRecord | ArgvRecord | ForkRecord | ExitRecord | FileRecord | LostRecord;

export interface BpfParseFailure {
  readonly type: 'unparsed';
  readonly reason: string;
}

/** Why bits (see tripline.bt). */
export const WHY = { netPrefix: 1, procPrefix: 2, dots: 4, relativeOnProc: 8, underNet: 16, statOnProc: 32, recipeRoot: 64 } as const;

const LOST = /^Lost (\d+) events$/;
const INT = /^-?\d{1,10}$/;
const HEX = /^[0-9a-fA-F]{1,16}$/;
const SYSCALL_PREFIX = 'tracepoint:syscalls:sys_exit_';

function int(text: string | undefined): number | undefined {
  return text !== undefined && INT.test(text) ? Number(text) : undefined;
}

function ns(text: string | undefined): bigint | undefined {
  return text !== undefined && /^\d{1,20}$/.test(text) ? BigInt(text) : undefined;
}

function fail(reason: string): BpfParseFailure {
  return { type: 'unparsed', reason };
}

/** Parses one line; undefined for lines that carry nothing (empty lines, "Attaching N probes..."). */
export function parseBpfLine(line: string): BpfRecord | BpfParseFailure | undefined {
  if (line === '' || line.startsWith('Attaching ')) return undefined;
  const lost = LOST.exec(line);
  if (lost?.[1] !== undefined) return { type: 'lost', count: Number(lost[1]) };
  const f = line.split('\t');
  const time = ns(f[1]);
  if (time === undefined) return fail('no timestamp');
  switch (f[0]) {
    case 'READY':
      return { type: 'ready', ns: time };
    case 'SYNC':
      return { type: 'sync', ns: time };
    case 'TICK':
      return { type: 'tick', ns: time };
    case 'EXEC': {
      const [tgid, ppid, uid, oldTid, startNs, execId, exeDev, exeIno, argLength, cgroupId] = [int(f[2]), int(f[4]), int(f[5]), int(f[6]), ns(f[7]), int(f[8]), int(f[9]), ns(f[10]), int(f[11]), ns(f[13])];
      if (f.length < 16 || tgid === undefined || ppid === undefined || uid === undefined || oldTid === undefined || startNs === undefined || execId === undefined
        || exeDev === undefined || exeIno === undefined || argLength === undefined || argLength < 0 || cgroupId === undefined) {
        return fail('bad EXEC line');
      }
      return {
        type: 'exec', ns: time, tgid, ppid, uid, oldTid, startNs, execId, exeDev, exeIno, comm: f[14] ?? '', filename: f.slice(15).join('\t'),
        argLength, argBytes: decodeBpfBuffer(f[12] ?? ''), cgroupId,
      };
    }
    case 'ARGV': {
      const [tgid, offset] = [int(f[2]), int(f[3])];
      if (f.length !== 5 || tgid === undefined || offset === undefined) return fail('bad ARGV line');
      return { type: 'argv', ns: time, tgid, offset, bytes: decodeBpfBuffer(f[4] ?? '') };
    }
    case 'FORK': {
      const [parentTgid, parentTid, childTid, thread, parentStartNs, parentExecId, cgroupId] = [int(f[2]), int(f[3]), int(f[4]), int(f[6]), ns(f[8]), int(f[9]), ns(f[10])];
      const flags = f[7] ?? '';
      if (f.length !== 11 || parentTgid === undefined || parentTid === undefined || childTid === undefined || thread === undefined || parentStartNs === undefined
        || parentExecId === undefined || cgroupId === undefined || !HEX.test(flags)) {
        return fail('bad FORK line');
      }
      return { type: 'fork', ns: time, parentTgid, parentTid, childTid, thread: thread === 1, cloneFlags: BigInt(`0x${flags}`), parentStartNs, parentExecId, cgroupId };
    }
    case 'EXIT': {
      const [tgid, startNs, execId, status] = [int(f[2]), ns(f[4]), int(f[5]), int(f[6])];
      if (f.length < 7 || tgid === undefined || startNs === undefined || execId === undefined || status === undefined) return fail('bad EXIT line');
      return { type: 'exit', ns: time, tgid, startNs, execId, status };
    }
    case 'FILE': {
      // The path (field 10) is the only field that may hold a tab; the six after it are fixed.
      if (f.length < 17) return fail('bad FILE line');
      const tail = f.slice(f.length - 6);
      const [tgid, startNs, execId, dfd, ret, why, depth] = [int(f[3]), ns(f[4]), int(f[5]), int(f[6]), int(f[8]), int(f[9]), int(tail[1])];
      const syscall = f[2] ?? '';
      const kind = tail[0];
      if (tgid === undefined || startNs === undefined || execId === undefined || dfd === undefined || ret === undefined || why === undefined || depth === undefined) {
        return fail('bad FILE numbers');
      }
      if (!syscall.startsWith(SYSCALL_PREFIX) || (kind !== 'o' && kind !== 'b' && kind !== '-')) return fail('bad FILE fields');
      const argText = f[7] ?? '';
      return {
        type: 'file', ns: time, syscall: syscall.slice(SYSCALL_PREFIX.length), tgid, startNs, execId, dfd, arg: HEX.test(argText) ? Number.parseInt(argText, 16) : 0, ret, why,
        path: f.slice(10, f.length - 6).join('\t'), resolvedKind: kind, depth, names: tail.slice(2),
      };
    }
    default:
      return fail('unknown record type');
  }
}

/**
 * The procfs path a dentry walk describes: "/proc" + the names root-first. Only DEPTH names
 * exist; the program prints four, so deeper dentries are complete only when known to lie under
 * /proc/sys/net (whose first two components are then known). Undefined when incomplete.
 */
export function procPathFromNames(depth: number, names: readonly string[], underNet: boolean): string | undefined {
  if (depth < 0) return undefined;
  if (depth === 0) return '/proc';
  if (depth <= names.length) return `/proc/${names.slice(0, depth).reverse().join('/')}`;
  if (underNet && depth - 2 <= names.length) return `/proc/sys/net/${names.slice(0, depth - 2).reverse().join('/')}`;
  return undefined;
}

/** The bytes of a buffer bpftrace printed with %r: printable ASCII as is, the rest as \xNN. */
export function decodeBpfBuffer(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 0x5c && text[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** argv from the bytes collected so far: NUL-separated, cut at the area's size. */
export function argvFromBytes(bytes: Buffer, argLength: number): { argv: string[]; complete: boolean } {
  const area = bytes.subarray(0, argLength);
  const text = area.toString('utf8').replace(/\0$/, '');
  return { argv: text === '' ? [] : text.split('\0'), complete: bytes.length >= argLength };
}
