// Reading a user's YAML file: only a regular file (a FIFO named *.yaml would block a reload
// forever) and at most 1 MiB (a recipe or a configuration is a few kilobytes). Files Tripline
// obeys (configuration, recipes) may be read under a trust rule: as root, only files that
// nobody but root (or the sudo user) could have written.

import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { visible } from '../model/visible.ts';
import { resolveCheckedPath, type PathStep } from './resolve-checked-path.ts';

const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** The sticky bit (node's fs.constants has no S_ISVTX). */
const S_ISVTX = 0o1000;

/**
 * The file's text and mode (of the file read, from its open descriptor: never a link's), or why
 * it cannot be used (`unsafe`: refused by the trust rule, with how to fix it).
 */
export type DocumentRead =
  | { readonly text: string; readonly mode: number }
  | { readonly error: string; readonly unsafe?: true; readonly hint?: string };

/**
 * Who may own a file Tripline obeys, and every directory and symlink on its path. The rule
 * (OpenSSH's StrictModes, sudo's sudoers check): each entry from / down to the file belongs to
 * one of `owners`; no directory on the way is writable by group or others unless it has the
 * sticky bit (then only an entry's owner can rename or remove it, and that owner is trusted);
 * the file itself is a regular file not writable by group or others.
 */
export interface DocumentTrust {
  readonly owners: readonly number[];
}

/**
 * The trust rule for the current process: as root (euid 0), root and the user who ran sudo
 * (SUDO_UID: a developer's own project); otherwise none, a user may use any file they can read.
 */
export function documentTrust(env: NodeJS.ProcessEnv, euid: number | undefined = process.geteuid?.()): DocumentTrust | undefined {
  if (euid !== 0) return undefined;
  const sudo = Number(env.SUDO_UID ?? '');
  return { owners: env.SUDO_UID !== undefined && /^\d+$/.test(env.SUDO_UID) && sudo !== 0 ? [0, sudo] : [0] };
}

/** Thrown inside the walk: the entry breaks the trust rule. */
class Untrusted extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

function ownerName(owners: readonly number[]): string {
  return owners.length === 1 ? 'root' : `root or uid ${owners.slice(1).join(', ')} (SUDO_UID)`;
}

function writableBy(st: Stats): string | undefined {
  const group = (st.mode & 0o020) !== 0;
  const others = (st.mode & 0o002) !== 0;
  if (group && others) return 'group and others';
  if (group) return 'its group';
  if (others) return 'everyone';
  return undefined;
}

function checkStep(step: PathStep, trust: DocumentTrust): void {
  const p = visible(step.path);
  const dir = visible(step.parentPath);
  if (!trust.owners.includes(step.st.uid)) {
    const what = step.st.isSymbolicLink() ? 'the symbolic link ' : step.st.isDirectory() ? 'the directory ' : '';
    throw new Untrusted(`${what}${p} belongs to uid ${String(step.st.uid)}, not to ${ownerName(trust.owners)}: another user could have written it`,
      step.st.isSymbolicLink() ? `replace the link with the file, or: chown -h root ${p}` : `chown root ${p} && chmod go-w ${p}`);
  }
  const writers = writableBy(step.parent);
  if (writers !== undefined && (step.parent.mode & S_ISVTX) === 0) {
    throw new Untrusted(`the directory ${dir} on its path is writable by ${writers} (no sticky bit): they could replace ${p}`, `chmod go-w ${dir}, or move the file to a directory only root can write (/etc/tripline)`);
  }
}

function checkFile(path: string, st: Stats, trust: DocumentTrust): void {
  const p = visible(path);
  if (!trust.owners.includes(st.uid)) throw new Untrusted(`${p} belongs to uid ${String(st.uid)}, not to ${ownerName(trust.owners)}: another user could have written it`, `chown root ${p} && chmod go-w ${p}`);
  const writers = writableBy(st);
  if (writers !== undefined) throw new Untrusted(`${p} is writable by ${writers}`, `chmod go-w ${p}`);
}

const TRUST_NOTE = 'Tripline runs as root and obeys only files nobody else could have written';

/**
 * The file's text, or why it cannot be used. With `trust`, the path is walked first (no
 * entry on it may break the rule) and the file is then opened without following a link at its
 * end and checked again on the open descriptor, so what is read is what was checked.
 */
export function readDocumentFile(path: string, trust?: DocumentTrust): DocumentRead {
  let target = path;
  let walked: { dev: number; ino: number } | undefined;
  if (trust !== undefined) {
    try {
      const found = resolveCheckedPath(resolve(path), (step) => { checkStep(step, trust); });
      target = found.real;
      walked = { dev: found.st.dev, ino: found.st.ino };
    } catch (error) {
      if (error instanceof Untrusted) return { error: `${error.message} (${TRUST_NOTE})`, unsafe: true, hint: error.hint };
      return { error: (error as Error).message };
    }
  }
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    fd = openSync(target, constants.O_RDONLY | constants.O_NONBLOCK | (trust === undefined ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    return { error: (error as Error).message };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: 'not a regular file' };
    if (trust !== undefined) {
      if (walked !== undefined && (st.dev !== walked.dev || st.ino !== walked.ino)) return { error: 'the file changed while it was checked' };
      try {
        checkFile(path, st, trust);
      } catch (error) {
        if (error instanceof Untrusted) return { error: `${error.message} (${TRUST_NOTE})`, unsafe: true, hint: error.hint };
        throw error;
      }
    }
    if (st.size > MAX_DOCUMENT_BYTES) return { error: `larger than ${String(MAX_DOCUMENT_BYTES)} bytes (${String(st.size)})` };
    return { text: readFileSync(fd, 'utf8'), mode: st.mode };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    closeSync(fd);
  }
}
