// Turns parsed strace records into sensor events: which path, relative to what, how it was
// touched, and what the kernel answered.

import type { AccessAction, AccessEvent, FdRef, SensorEvent } from '../../model/sensor-event.ts';
import { openFlagsFromNames } from '../open-action.ts';
import { syscallAccess, syscallNoFollow, type SyscallAccess } from '../syscall-access.ts';
import { decodeFdArg, decodeStringArg, decodeStringArray } from './strace-args.ts';
import type { StraceRecord, SyscallRecord } from './strace-line-parser.ts';

/** Syscalls this mapper understands; the strace sensor traces exactly these (where the arch has them). */
export const TRACED_SYSCALLS = [
  'open', 'openat', 'openat2', 'creat',
  'stat', 'lstat', 'newfstatat', 'statx',
  // What strace calls them in a 32-bit process.
  'stat64', 'lstat64', 'fstatat64',
  // Whether a path exists, and on which filesystem: an area probed without a stat.
  'statfs', 'fstatfs', 'statfs64', 'fstatfs64',
  // Opens that name no path (a file handle) or make a detached copy of a mount: judged by the fd returned.
  'open_by_handle_at', 'open_tree',
  'access', 'faccessat', 'faccessat2',
  'readlink', 'readlinkat',
  'getdents', 'getdents64',
  'chdir', 'fchdir',
  'execve', 'execveat',
  'fork', 'vfork', 'clone', 'clone3',
  'exit_group',
  'setuid', 'setreuid', 'setresuid',
  'mount', 'symlink', 'symlinkat',
  // Mounts made, moved and taken away with the newer API, and detached mounts (fds of a mount attached nowhere).
  'move_mount', 'umount2', 'fsopen', 'fsmount',
  'unshare', 'setns',
] as const;

/** What the call does, from the table every sensor shares (opens: from their symbolic flags). */
function accessOf(rec: SyscallRecord, flags = ''): SyscallAccess {
  const access = syscallAccess(rec.name, openFlagsFromNames(flags));
  if (access === undefined || access === 'cwd') throw new Error(`${rec.name} is not a file access`);
  return access;
}

/** `{st_mode=S_IFDIR|0555, ...}` or `{..., stx_mode=S_IFDIR|0555, ...}` → true/false; undefined if not printed. */
function statIsDirectory(buf: string | undefined): boolean | undefined {
  if (buf === undefined) return undefined;
  const m = /\bstx?_mode=(S_IF[A-Z]+)/.exec(buf);
  return m ? m[1] === 'S_IFDIR' : undefined;
}

interface PathCall {
  readonly dirfd: FdRef | undefined;
  readonly pathArg: string | undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function mapAccess(rec: SyscallRecord, call: PathCall, action: AccessAction, extra: { isDirectory?: boolean; linkTarget?: string } = {}): SensorEvent | undefined {
  const decoded = decodeStringArg(call.pathArg);
  if (decoded === undefined) return undefined;
  const event: Writable<AccessEvent> = { kind: 'access', timeMs: rec.timeMs, tid: rec.tid, syscall: rec.name, action };
  if (call.dirfd !== undefined) event.base = call.dirfd;
  const ret = rec.ret;
  if (ret.errno !== undefined) event.error = ret.errno;
  else if (ret.fdPath !== undefined) {
    event.resolvedPath = ret.fdPath;
    if (ret.value !== undefined) event.returnedFd = ret.value;
  }
  if (extra.isDirectory !== undefined) event.isDirectory = extra.isDirectory;
  if (extra.linkTarget !== undefined) event.linkTarget = extra.linkTarget;
  if (syscallNoFollow(rec.name) || hasNoFollowFlag(rec.args)) event.noFollow = true;
  // An empty path with AT_EMPTY_PATH operates on the dirfd itself (fstat).
  if (decoded.value === '') {
    const fdPath = call.dirfd?.path;
    if (fdPath === undefined || event.error !== undefined) return undefined;
    event.resolvedPath = fdPath;
    return event;
  }
  event.path = decoded.value;
  return event;
}

/** AT_SYMLINK_NOFOLLOW or O_NOFOLLOW in a flags argument (never in a quoted path that happens to contain the word). */
function hasNoFollowFlag(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg.charCodeAt(0) !== 0x22 && /\b(?:AT_SYMLINK_NOFOLLOW|O_NOFOLLOW)\b/.test(arg)) return true;
  }
  return false;
}

function cloneFlags(rec: SyscallRecord): string {
  for (const arg of rec.args) {
    const m = /(?:^|[{ ])flags=([A-Z0-9_|]+)/.exec(arg);
    if (m?.[1] !== undefined) return m[1];
  }
  return '';
}

/** A call on an fd only (fstatfs): the fd's path as strace -y printed it. */
function fdAccess(rec: SyscallRecord, fd: ReturnType<typeof decodeFdArg>, action: AccessAction): SensorEvent | undefined {
  if (fd?.path === undefined) return undefined;
  return {
    kind: 'access', timeMs: rec.timeMs, tid: rec.tid, syscall: rec.name, action, resolvedPath: fd.path, base: fd,
    ...(rec.ret.errno === undefined ? {} : { error: rec.ret.errno }),
  };
}

/** Maps one record to a sensor event, or undefined when it carries nothing the engine uses. */
export function mapStraceRecord(rec: StraceRecord): SensorEvent | undefined {
  switch (rec.type) {
    case 'exited':
      return { kind: 'exit', timeMs: rec.timeMs, tid: rec.tid, exitCode: rec.code & 0xff };
    case 'killed':
      return { kind: 'exit', timeMs: rec.timeMs, tid: rec.tid, signal: rec.signal, coreDumped: rec.coreDumped };
    case 'signal':
    case 'notice':
      return undefined;
    case 'syscall':
      return mapSyscall(rec);
  }
}

function mapSyscall(rec: SyscallRecord): SensorEvent | undefined {
  const a = rec.args;
  const ok = rec.ret.errno === undefined;
  switch (rec.name) {
    case 'open':
    case 'creat': {
      const { action, isDirectory } = accessOf(rec, a[1]);
      return mapAccess(rec, { dirfd: undefined, pathArg: a[0] }, action, isDirectory === undefined ? {} : { isDirectory });
    }
    case 'openat': {
      const { action, isDirectory } = accessOf(rec, a[2]);
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, action, isDirectory === undefined ? {} : { isDirectory });
    }
    case 'openat2': {
      const flags = /flags=([A-Z0-9_|]+)/.exec(a[2] ?? '')?.[1] ?? '';
      const { action, isDirectory } = accessOf(rec, flags);
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, action, isDirectory === undefined ? {} : { isDirectory });
    }
    case 'stat':
    case 'lstat':
    case 'stat64':
    case 'lstat64':
      return mapAccess(rec, { dirfd: undefined, pathArg: a[0] }, accessOf(rec).action, dirFlag(statIsDirectory(a[1])));
    case 'newfstatat':
    case 'fstatat64':
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, accessOf(rec).action, dirFlag(statIsDirectory(a[2])));
    case 'statx':
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, accessOf(rec).action, dirFlag(statIsDirectory(a[4])));
    case 'statfs':
    case 'statfs64':
      return mapAccess(rec, { dirfd: undefined, pathArg: a[0] }, accessOf(rec).action);
    case 'fstatfs':
    case 'fstatfs64':
      return fdAccess(rec, decodeFdArg(a[0]), accessOf(rec).action);
    case 'open_by_handle_at': {
      // No path at all: what the kernel opened is the returned fd (strace -y prints its path).
      const { action, isDirectory } = accessOf(rec, a[2]);
      if (rec.ret.fdPath === undefined) return undefined;
      return {
        kind: 'access', timeMs: rec.timeMs, tid: rec.tid, syscall: rec.name, action, resolvedPath: rec.ret.fdPath,
        ...(rec.ret.value === undefined ? {} : { returnedFd: rec.ret.value }), ...(isDirectory === undefined ? {} : { isDirectory }),
      };
    }
    case 'open_tree': {
      // OPEN_TREE_CLONE makes a detached copy of the mount: the kernel names what lies under the fd from its own root.
      if (ok && rec.ret.value !== undefined && (a[2] ?? '').includes('OPEN_TREE_CLONE')) {
        const source = decodeStringArg(a[1]);
        const base = decodeFdArg(a[0]);
        return {
          kind: 'detached-mount', timeMs: rec.timeMs, tid: rec.tid, fd: rec.ret.value,
          ...(source === undefined ? {} : { sourcePath: source.value }), ...(base === undefined ? {} : { base }),
        };
      }
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, accessOf(rec).action);
    }
    case 'fsopen': {
      // The filesystem type of a context fd, for the fsmount that makes a detached mount of it.
      const fstype = decodeStringArg(a[0]);
      if (!ok || rec.ret.value === undefined || fstype === undefined) return undefined;
      return { kind: 'detached-mount', timeMs: rec.timeMs, tid: rec.tid, fd: rec.ret.value, fstype: fstype.value, context: true };
    }
    case 'fsmount': {
      const context = decodeFdArg(a[0]);
      if (!ok || rec.ret.value === undefined) return undefined;
      return { kind: 'detached-mount', timeMs: rec.timeMs, tid: rec.tid, fd: rec.ret.value, ...(context === undefined ? {} : { base: context }) };
    }
    case 'access':
      return mapAccess(rec, { dirfd: undefined, pathArg: a[0] }, accessOf(rec).action);
    case 'faccessat':
    case 'faccessat2':
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, accessOf(rec).action);
    case 'readlink':
      return mapAccess(rec, { dirfd: undefined, pathArg: a[0] }, accessOf(rec).action, linkTarget(ok, a[1]));
    case 'readlinkat':
      return mapAccess(rec, { dirfd: decodeFdArg(a[0]), pathArg: a[1] }, accessOf(rec).action, linkTarget(ok, a[2]));
    case 'getdents':
    case 'getdents64': {
      const fd = decodeFdArg(a[0]);
      if (fd?.path === undefined) return undefined;
      const { action, isDirectory } = accessOf(rec);
      return {
        kind: 'access', timeMs: rec.timeMs, tid: rec.tid, syscall: rec.name, action,
        resolvedPath: fd.path, base: fd, ...(isDirectory === undefined ? {} : { isDirectory }), ...(rec.ret.errno === undefined ? {} : { error: rec.ret.errno }),
      };
    }
    case 'chdir': {
      const path = decodeStringArg(a[0]);
      if (!ok || path === undefined) return undefined;
      return { kind: 'cwd', timeMs: rec.timeMs, tid: rec.tid, path: path.value };
    }
    case 'fchdir': {
      const fd = decodeFdArg(a[0]);
      if (!ok || fd === undefined) return undefined;
      return { kind: 'cwd', timeMs: rec.timeMs, tid: rec.tid, fd };
    }
    case 'execve':
    case 'execveat': {
      if (!ok) return undefined;
      const at = rec.name === 'execveat' ? 1 : 0;
      const path = decodeStringArg(a[at]);
      const argv = decodeStringArray(a[at + 1]);
      if (path === undefined) return undefined;
      const base = at === 1 ? decodeFdArg(a[0]) : undefined;
      return {
        kind: 'exec', timeMs: rec.timeMs, tid: rec.tid, path: path.value, ...(base === undefined ? {} : { base }),
        argv: argv?.values ?? [], argvTruncated: argv?.truncated ?? true,
      };
    }
    case 'fork':
    case 'vfork':
    case 'clone':
    case 'clone3': {
      const child = rec.ret.value;
      if (!ok || child === undefined || child <= 0) return undefined;
      const flags = rec.name === 'clone' || rec.name === 'clone3' ? cloneFlags(rec) : '';
      return {
        kind: 'fork', timeMs: rec.timeMs, parentTid: rec.tid, childTid: child,
        thread: flags.includes('CLONE_THREAD'), sharesFs: flags.includes('CLONE_FS'),
        ...(flags.includes('CLONE_NEWNS') ? { newMountNamespace: true } : {}),
        ...(flags.includes('CLONE_NEWPID') ? { newPidNamespace: true } : {}),
        // The parent is in another pid namespace: fork returned its own number for the child.
        ...(rec.ret.nsValue === undefined ? {} : { childNsPid: rec.ret.nsValue }),
      };
    }
    case 'exit_group': {
      const code = Number(a[0]);
      return { kind: 'exit', timeMs: rec.timeMs, tid: rec.tid, ...(Number.isInteger(code) ? { exitCode: code & 0xff } : {}) };
    }
    case 'setuid':
    case 'setreuid':
    case 'setresuid': {
      if (!ok) return undefined;
      const effective = Number(rec.name === 'setuid' ? a[0] : a[1]);
      if (!Number.isInteger(effective) || effective < 0) return undefined;
      return { kind: 'uid', timeMs: rec.timeMs, tid: rec.tid, uid: effective };
    }
    case 'mount': {
      const target = decodeStringArg(a[1]);
      if (!ok || target === undefined) return undefined;
      const flags = a[3] ?? '';
      return {
        kind: 'mount', timeMs: rec.timeMs, tid: rec.tid, target: target.value,
        source: decodeStringArg(a[0])?.value, fstype: decodeStringArg(a[2])?.value, bind: flags.includes('MS_BIND'),
        ...(flags.includes('MS_MOVE') ? { move: true } : {}),
      };
    }
    case 'move_mount': {
      // move_mount(from_dirfd, from_path, to_dirfd, to_path, flags): attaches a detached mount, or moves one.
      const from = decodeStringArg(a[1]);
      const target = decodeStringArg(a[3]);
      if (!ok || from === undefined || target === undefined) return undefined;
      const fromFd = decodeFdArg(a[0]);
      const fromSelf = from.value === '' && (a[4] ?? '').includes('MOVE_MOUNT_F_EMPTY_PATH');
      return {
        kind: 'mount', timeMs: rec.timeMs, tid: rec.tid, target: target.value, fstype: undefined, bind: false, move: true,
        source: fromSelf ? undefined : from.value, ...(fromSelf && fromFd !== undefined ? { sourceFd: fromFd } : {}),
      };
    }
    case 'umount2': {
      const target = decodeStringArg(a[0]);
      if (!ok || target === undefined) return undefined;
      return { kind: 'mount', timeMs: rec.timeMs, tid: rec.tid, target: target.value, source: undefined, fstype: undefined, bind: false, unmount: true };
    }
    case 'unshare': {
      const flags = a[0] ?? '';
      const mount = flags.includes('CLONE_NEWNS');
      const pidForChildren = flags.includes('CLONE_NEWPID');
      return ok && (mount || pidForChildren) ? { kind: 'namespace', timeMs: rec.timeMs, tid: rec.tid, mount, pidForChildren, joined: false } : undefined;
    }
    case 'setns': {
      // nstype 0 joins whatever namespace the fd is: counted as both kinds.
      const nstype = (a[1] ?? '').trim();
      const mount = /CLONE_NEWNS|^0$/.test(nstype);
      const pidForChildren = /CLONE_NEWPID|^0$/.test(nstype);
      return ok && (mount || pidForChildren) ? { kind: 'namespace', timeMs: rec.timeMs, tid: rec.tid, mount, pidForChildren, joined: true } : undefined;
    }
    case 'symlink':
    case 'symlinkat': {
      const target = decodeStringArg(a[0]);
      const linkPath = decodeStringArg(a[rec.name === 'symlink' ? 1 : 2]);
      if (!ok || target === undefined || linkPath === undefined) return undefined;
      const base = rec.name === 'symlinkat' ? decodeFdArg(a[1]) : undefined;
      return { kind: 'symlink', timeMs: rec.timeMs, tid: rec.tid, target: target.value, linkPath: linkPath.value, ...(base === undefined ? {} : { base }) };
    }
    default:
      return undefined;
  }
}

function dirFlag(isDirectory: boolean | undefined): { isDirectory?: boolean } {
  return isDirectory === undefined ? {} : { isDirectory };
}

function linkTarget(ok: boolean, buf: string | undefined): { linkTarget?: string } {
  if (!ok) return {};
  const target = decodeStringArg(buf);
  return target === undefined ? {} : { linkTarget: target.value };
}
