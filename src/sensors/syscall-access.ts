// One table for every sensor: what a file system call does to the path it names (the action
// the engine counts, whether it lists a directory, whether it follows a final symlink). strace,
// bpftrace's program and the compiled sensor name calls alike ("newstat" is "stat"); the i386
// and io_uring variants ("i386:open", "io_uring:openat") take their base call's row.

import type { AccessAction } from '../model/sensor-event.ts';
import { openAction, type OpenFlags } from './open-action.ts';

export interface SyscallAccess {
  readonly action: AccessAction;
  readonly isDirectory?: boolean;
  /** The call does not follow a final symlink (lstat, readlink). */
  readonly noFollow?: boolean;
}

type Row = SyscallAccess | 'open' | 'creat' | 'cwd';

const TABLE: Readonly<Record<string, Row>> = {
  open: 'open', openat: 'open', openat2: 'open', open_by_handle_at: 'open', creat: 'creat',
  // A handle on a path or a (detached) tree: looked at, like O_PATH.
  open_tree: { action: 'stat' },
  stat: { action: 'stat' }, lstat: { action: 'stat', noFollow: true }, newfstatat: { action: 'stat' }, statx: { action: 'stat' },
  stat64: { action: 'stat' }, lstat64: { action: 'stat', noFollow: true }, fstatat64: { action: 'stat' },
  // Whether a path exists, and on which filesystem.
  statfs: { action: 'stat' }, fstatfs: { action: 'stat' }, statfs64: { action: 'stat' }, fstatfs64: { action: 'stat' },
  access: { action: 'access' }, faccessat: { action: 'access' }, faccessat2: { action: 'access' },
  readlink: { action: 'readlink', noFollow: true }, readlinkat: { action: 'readlink', noFollow: true },
  getdents: { action: 'list', isDirectory: true }, getdents64: { action: 'list', isDirectory: true },
  chdir: 'cwd', fchdir: 'cwd',
};

/** Sensor spellings of the same call. */
const ALIASES: Readonly<Record<string, string>> = { newstat: 'stat', newlstat: 'lstat' };

const O_WRONLY_CREAT: OpenFlags = { accessMode: 'write', create: true, path: false, directory: false };

/** The call's base name: "i386:open" → "open", "newstat" → "stat". */
export function baseSyscall(name: string): string {
  const base = name.slice(name.indexOf(':') + 1);
  return ALIASES[base] ?? base;
}

/** The name shown in evidence: the table prefix kept, the sensor's alias resolved ("i386:newstat" → "i386:stat"). */
export function evidenceSyscall(name: string): string {
  const colon = name.indexOf(':');
  return `${name.slice(0, colon + 1)}${baseSyscall(name)}`;
}

/**
 * What `name` does to its path: an access, 'cwd' (chdir, fchdir: the working directory moves),
 * or undefined for a call that is not a file access. Opens need their flags.
 */
export function syscallAccess(name: string, openFlags?: OpenFlags): SyscallAccess | 'cwd' | undefined {
  const row = TABLE[baseSyscall(name)];
  if (row === undefined || row === 'cwd') return row;
  if (row === 'creat') return openAction(O_WRONLY_CREAT);
  if (row === 'open') return openFlags === undefined ? undefined : openAction(openFlags);
  return row;
}

/** Whether the call opens (its flags decide the action, and its result is an fd). */
export function isOpen(name: string): boolean {
  const row = TABLE[baseSyscall(name)];
  return row === 'open' || row === 'creat';
}

/** Whether the call never follows a final symlink. */
export function syscallNoFollow(name: string): boolean {
  const row = TABLE[baseSyscall(name)];
  return typeof row === 'object' && row.noFollow === true;
}
