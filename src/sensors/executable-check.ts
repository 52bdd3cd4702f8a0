// Which file a live process is really running, in Tripline's own view of the filesystem:
// the path /proc/PID/exe names, accepted only if that path here is the very file running
// (same device and inode). A binary bind-mounted over an excepted path in a private mount
// namespace, or a path swapped for a link after the exec, is not that file.

import { readlinkSync, realpathSync, statSync } from 'node:fs';

/**
 * The verified canonical path of what `pid` runs; null when it cannot be verified (the file
 * was replaced or deleted, or lives in another mount namespace); undefined when the process
 * is gone. `spelled`, when given, must resolve here to the same file (the exec'd path, so a
 * later exec of the same pid is not taken for this one).
 */
export function verifiedExecutable(pid: number, spelled?: string): string | null | undefined {
  let running;
  let linked: string;
  try {
    running = statSync(`/proc/${String(pid)}/exe`);
    linked = readlinkSync(`/proc/${String(pid)}/exe`);
  } catch {
    return undefined;
  }
  try {
    const real = realpathSync.native(linked);
    const here = statSync(real);
    if (here.dev !== running.dev || here.ino !== running.ino) return null;
    if (spelled !== undefined && realpathSync.native(spelled) !== real) return null;
    return real;
  } catch {
    return null;
  }
}

/** A kernel dev_t (MAJOR<<20 | MINOR) as stat(2) reports it in st_dev (the "new" encoding). */
export function userDevFromKernel(kdev: number): number {
  const major = Math.floor(kdev / 2 ** 20);
  const minor = kdev % 2 ** 20;
  return (minor & 0xff) + major * 256 + Math.floor(minor / 256) * 2 ** 20;
}

/**
 * The verified canonical path of `spelled` when it is, in Tripline's view, the very file the
 * kernel said a process ran (device and inode read at exec): the process may be long gone.
 * Null when it is another file or cannot be read.
 */
export function verifiedByInode(spelled: string, kernelDev: number, ino: bigint): string | null {
  try {
    const real = realpathSync.native(spelled);
    const here = statSync(real, { bigint: true });
    return here.dev === BigInt(userDevFromKernel(kernelDev)) && here.ino === ino ? real : null;
  } catch {
    return null;
  }
}
