// Where the detection store lives and the checks made before SQLite opens it: Tripline runs as
// root on hosts where other users may have planted links or files, and SQLite opens the
// database and its -wal/-shm siblings by name, following links. So the store's directory must
// be one only its owner (this user or root) can write, reached through no directory another
// user could redirect; then nothing can be planted beside the file after the checks, and the
// names SQLite opens later are the ones checked here.

import { closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { resolveCheckedPath, type CheckedPath } from '../documents/resolve-checked-path.ts';
import { visible } from '../model/visible.ts';
import { DetectionStoreError } from './detection-store.ts';

/** The store of a root process. */
export const ROOT_STORE_PATH = '/var/lib/tripline/tripline.db';

/** Files SQLite keeps beside the database. */
export const STORE_SIBLINGS = ['-wal', '-shm', '-journal'] as const;

/** The sticky bit (node's fs.constants has no S_ISVTX). */
const S_ISVTX = 0o1000;

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/**
 * The default store: /var/lib/tripline/tripline.db for root, else
 * $XDG_STATE_HOME/tripline/tripline.db ($XDG_STATE_HOME: an absolute path, else
 * ~/.local/state, as the XDG base directory specification says of a relative one).
 */
export function defaultStorePath(env: NodeJS.ProcessEnv, uid: number = euid(), home: () => string = homedir): string {
  if (uid === 0) return ROOT_STORE_PATH;
  const xdg = env.XDG_STATE_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(home(), '.local', 'state');
  return join(base, 'tripline', 'tripline.db');
}

/** Owners whose files and directories this process trusts: itself and root. */
function trustedOwner(uid: number): boolean {
  return uid === euid() || uid === 0;
}

function worldWritable(st: Stats): boolean {
  return (st.mode & 0o002) !== 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

function refuse(path: string, reason: string, cause?: unknown): DetectionStoreError {
  return new DetectionStoreError(path, `detection store ${visible(path)}: ${reason}`, cause === undefined ? undefined : { cause });
}

/**
 * Walks the directory, refusing a directory or link on the way that belongs to another user
 * (its owner could rename it and put another in its place after the checks), and entries
 * planted in a world-writable directory, or a non-sticky one.
 */
function checkedWalk(store: string, dir: string): CheckedPath {
  return resolveCheckedPath(dir, (step) => {
    if (!trustedOwner(step.st.uid) && !worldWritable(step.parent)) {
      throw refuse(store, `its path goes through ${visible(step.path)}, which belongs to uid ${String(step.st.uid)}: that user could move it and put another in its place; use a path only you and root control`);
    }
    if (!worldWritable(step.parent)) return;
    if (!trustedOwner(step.st.uid) && step.st.uid !== step.parent.uid) {
      throw refuse(store, `${visible(step.path)} belongs to uid ${String(step.st.uid)} and sits in the world-writable directory ${visible(step.parentPath)}: another user could have put it there; use a directory only you can write`);
    }
    if ((step.parent.mode & S_ISVTX) === 0) {
      throw refuse(store, `its path goes through ${visible(step.parentPath)}, which anyone can write and has no sticky bit: another user could replace ${visible(step.path)}; use a directory only you can write`);
    }
  });
}

/** The store's own directory: ours or root's, writable by its owner only. */
function checkStoreDirectory(store: string, found: CheckedPath): void {
  const st = found.st;
  if (!st.isDirectory()) throw refuse(store, `${visible(found.real)} is not a directory`);
  if (!trustedOwner(st.uid)) {
    throw refuse(store, `its directory ${visible(found.real)} belongs to uid ${String(st.uid)}, not to this user (uid ${String(euid())}) or root: another user could replace the database or plant its -wal/-shm files; use a directory of your own`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw refuse(store, `its directory ${visible(found.real)} can be written by others (mode ${octal(st.mode)}): another user could plant links in place of its -wal/-shm files; use a directory only its owner can write (chmod go-w)`);
  }
}

/** An existing database or sibling file: a regular file of ours or root's, one link, not writable by others. */
function checkEntry(store: string, path: string, st: Stats): void {
  if (st.isSymbolicLink()) throw refuse(store, `${visible(path)} is a symbolic link; the store is never opened through one (a planted link could point at any file): give the real path`);
  if (!st.isFile()) throw refuse(store, `${visible(path)} is not a regular file`);
  if (!trustedOwner(st.uid)) throw refuse(store, `${visible(path)} belongs to uid ${String(st.uid)}, not to this user (uid ${String(euid())}) or root`);
  if (st.nlink > 1) throw refuse(store, `${visible(path)} has ${String(st.nlink)} hard links: another of its names may be a file that must not be written`);
  if ((st.mode & 0o022) !== 0) throw refuse(store, `${visible(path)} can be written by others (mode ${octal(st.mode)}); chmod go-w it`);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Creates the missing directories on the way to `dir`, one at a time (0700, never through a link made meanwhile). */
function makeDirectories(store: string, dir: string): void {
  const missing: string[] = [];
  let at = dir;
  while (lstatOrUndefined(at) === undefined) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  // What exists is checked before anything is made under it.
  checkedWalk(store, at);
  for (const d of missing) {
    try {
      // Not recursive: mkdir fails on an entry that appeared meanwhile (a planted link) instead of following it.
      mkdirSync(d, { mode: 0o700 });
    } catch (error) {
      throw refuse(store, `cannot create the directory ${visible(d)}: ${(error as Error).message}`, error);
    }
  }
}

/** What the checks established: the real path SQLite is given, and the identity of the file there. */
export interface CheckedStoreFile {
  readonly real: string;
  readonly dev: number;
  readonly ino: number;
  /** The file was created by this call (empty). */
  readonly created: boolean;
}

/**
 * Checks (and with `create`, makes) the store file at `path` before SQLite opens it: the
 * directory path cannot be redirected by another user, the store's directory belongs to this
 * user or root and only its owner can write it, the file and its -wal/-shm/-journal siblings
 * are regular files of this user or root with one link, never symlinks. A new file and new
 * directories are made 0600/0700; an existing file of ours loses every permission of group and
 * others. Throws DetectionStoreError naming the path; an absent store without `create` too.
 */
export function checkStoreFile(path: string, create: boolean): CheckedStoreFile {
  const full = resolve(path);
  const name = basename(full);
  if (full === '/' || name === '' || name === '.' || name === '..') throw refuse(path, 'it is a directory');
  const dir = dirname(full);
  if (create) makeDirectories(path, dir);
  let found: CheckedPath;
  try {
    found = checkedWalk(path, dir);
  } catch (error) {
    if (error instanceof DetectionStoreError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !create) throw refuse(path, 'no store there (nothing recorded yet, or another --store path)', error);
    throw refuse(path, `cannot use its directory: ${(error as Error).message}`, error);
  }
  checkStoreDirectory(path, found);
  const real = join(found.real, name);
  for (const suffix of STORE_SIBLINGS) {
    const st = lstatOrUndefined(real + suffix);
    if (st !== undefined) checkEntry(path, real + suffix, st);
  }
  const existing = lstatOrUndefined(real);
  if (existing === undefined && !create) throw refuse(path, 'no store there (nothing recorded yet, or another --store path)');
  let fd: number;
  try {
    // O_NOFOLLOW: a link put at the name is refused, never followed; O_NONBLOCK: a FIFO cannot hang the open.
    fd = openSync(real, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK | (existing === undefined ? constants.O_CREAT | constants.O_EXCL : 0), 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refuse(path, `${visible(real)} is a symbolic link; the store is never opened through one (a planted link could point at any file): give the real path`, error);
    throw refuse(path, `cannot open ${visible(real)}: ${(error as Error).message}`, error);
  }
  try {
    const st = fstatSync(fd);
    checkEntry(path, real, st);
    if (st.uid === euid() && (st.mode & 0o077) !== 0) fchmodSync(fd, st.mode & 0o600);
    return { real, dev: st.dev, ino: st.ino, created: existing === undefined };
  } finally {
    closeSync(fd);
  }
}
