// Opening a file Tripline writes (JSON Lines, SARIF, JUnit, the GitHub runner's files) so that
// nothing another local user planted can redirect the write when Tripline runs as root: no
// final symlink is followed, no planted file or link in a shared directory is used, a FIFO or
// device cannot block, and what Tripline creates is readable by its owner only.

import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { resolveCheckedPath, type CheckedPath } from '../documents/resolve-checked-path.ts';
import { visible } from './terminal-text.ts';

/** Why an output file was not opened; the message names the file and the reason. */
export class OutputFileError extends Error {
  override readonly name = 'OutputFileError';

  constructor(readonly path: string, readonly reason: string, options?: ErrorOptions) {
    super(`refusing to write ${visible(path)}: ${reason}`, options);
  }
}

export interface OutputFileOptions {
  /** Keep what the file holds and write at its end; otherwise it is emptied once checked. */
  readonly append?: boolean;
}

/** Mode of a file Tripline creates (the process umask may only remove bits). */
const CREATE_MODE = 0o600;
/** What an existing file of ours may keep: owner read/write, group read (a log reader's group). */
const KEEP_MODE = 0o640;
/** /dev/null's device number (major 1, minor 3). */
const DEV_NULL_RDEV = (1 << 8) | 3;
/** The sticky bit (node's fs.constants has no S_ISVTX). */
const S_ISVTX = 0o1000;

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/** Anyone may create entries in it (world-writable). */
function worldWritable(st: Stats): boolean {
  return (st.mode & 0o002) !== 0;
}

function sticky(st: Stats): boolean {
  return (st.mode & S_ISVTX) !== 0;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * An entry of a world-writable directory may be used only if it belongs to us or to the
 * directory's owner: anything else was put there by another user (the kernel's
 * protected_symlinks and protected_regular rule, applied whatever the sysctls say).
 */
function plantedBy(entry: Stats, dir: Stats): number | undefined {
  if (!worldWritable(dir)) return undefined;
  return entry.uid === euid() || entry.uid === dir.uid ? undefined : entry.uid;
}

/**
 * Resolves the directory part component by component (following symlinks as the kernel
 * would) and refuses a path another user can redirect: a link or directory another user
 * planted in a world-writable directory, or a component of a world-writable directory without
 * the sticky bit (anyone may rename it away and put a link in its place). Returns the real
 * directory and what lstat said of it.
 */
function checkedDirectory(path: string, dir: string): CheckedPath {
  let found: CheckedPath;
  try {
    found = resolveCheckedPath(dir, (step) => {
      const planter = plantedBy(step.st, step.parent);
      if (planter !== undefined) {
        throw new OutputFileError(path, `${visible(step.path)} belongs to uid ${String(planter)} and sits in the world-writable directory ${visible(step.parentPath)}: another user could have put it there to redirect the write; use a directory only you can write`);
      }
      if (worldWritable(step.parent) && !sticky(step.parent)) {
        throw new OutputFileError(path, `its path goes through ${visible(step.parentPath)}, which anyone can write and has no sticky bit: another user could replace ${visible(step.path)} with a link; use a directory only you can write`);
      }
    });
  } catch (error) {
    if (error instanceof OutputFileError) throw error;
    throw new OutputFileError(path, `cannot use its directory: ${(error as Error).message}`, { cause: error });
  }
  if (!found.st.isDirectory()) throw new OutputFileError(path, `${visible(found.real)} is not a directory`);
  return found;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function openFailure(path: string, error: NodeJS.ErrnoException, dir: Stats): OutputFileError {
  const why: Readonly<Record<string, string>> = {
    ELOOP: 'it is a symbolic link; outputs are never written through a final link (a planted one could point at any file): give the real path',
    ENXIO: 'it is a FIFO or socket with nothing reading it; outputs go to regular files (or /dev/null)',
    EISDIR: 'it is a directory',
    EACCES: worldWritable(dir) && sticky(dir)
      ? 'permission denied (in a shared sticky directory the kernel refuses to open another user\'s file)'
      : 'permission denied',
  };
  return new OutputFileError(path, why[error.code ?? ''] ?? error.message, { cause: error });
}

/**
 * Opens `path` for writing and returns the descriptor, or throws OutputFileError. A new file
 * gets mode 0600; an existing file of ours loses group write and every permission of others
 * (group read is kept: an administrator may give a log reader's group access); another
 * user's file keeps its mode. Refused: a final symlink, a file with other hard links, a file
 * of another user in a world-writable directory, a directory path another user can redirect
 * (see checkedDirectory), and anything but a regular file or /dev/null (a FIFO, socket,
 * terminal or device; never waited on: the open does not block).
 */
export function openOutputFile(path: string, options: OutputFileOptions = {}): number {
  const full = resolve(path);
  const name = basename(full);
  if (full === '/' || name === '') throw new OutputFileError(path, 'it is a directory');
  const dir = checkedDirectory(path, dirname(full));
  let dirFd: number;
  try {
    dirFd = openSync(dir.real, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new OutputFileError(path, `cannot open its directory ${visible(dir.real)}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const dirSt = fstatSync(dirFd);
    if (dirSt.dev !== dir.st.dev || dirSt.ino !== dir.st.ino) throw new OutputFileError(path, `its directory ${visible(dir.real)} changed while it was checked`);
    // Through the directory's descriptor: the file is opened in exactly the directory checked.
    const entry = `/proc/self/fd/${String(dirFd)}/${name}`;
    // Asked first only for a clear message (some kernels answer EACCES to O_CREAT on another
    // user's link in a sticky directory); O_NOFOLLOW below is what refuses a link.
    if (lstatOrUndefined(entry)?.isSymbolicLink() === true) throw openFailure(path, Object.assign(new Error('symlink'), { code: 'ELOOP' }), dirSt);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | (options.append === true ? constants.O_APPEND : 0);
    let fd: number;
    try {
      fd = openSync(entry, flags, CREATE_MODE);
    } catch (error) {
      throw openFailure(path, error as NodeJS.ErrnoException, dirSt);
    }
    try {
      const st = fstatSync(fd);
      if (st.isCharacterDevice() && st.rdev === DEV_NULL_RDEV) return fd;
      if (!st.isFile()) throw new OutputFileError(path, `it is ${kindOf(st)}; outputs go to regular files (or /dev/null), which never make Tripline wait`);
      if (st.nlink > 1) throw new OutputFileError(path, `it has ${String(st.nlink)} hard links: one of its other names may be a file that must not be overwritten; remove it or choose another name`);
      const planter = plantedBy(st, dirSt);
      if (planter !== undefined) {
        throw new OutputFileError(path, `it belongs to uid ${String(planter)} and sits in the world-writable directory ${visible(dir.real)}: another user may have put it there; remove it or choose another path`);
      }
      if (st.uid === euid() && (st.mode & 0o7777 & ~KEEP_MODE) !== 0) fchmodSync(fd, st.mode & KEEP_MODE);
      if (options.append !== true) ftruncateSync(fd, 0);
      return fd;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  } finally {
    closeSync(dirFd);
  }
}

/** Appends `text` to an output file opened with openOutputFile (for the GitHub runner's files). */
export function appendOutputFile(path: string, text: string): void {
  const fd = openOutputFile(path, { append: true });
  try {
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
