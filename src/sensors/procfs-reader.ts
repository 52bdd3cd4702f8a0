// What user space can learn about a live process from /proc/<pid>: the facts an eBPF line
// does not carry (argv, exe, cwd, an fd's path, the parent of a process that predates us).

import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { verifiedByInode, verifiedExecutable } from './executable-check.ts';

export interface ProcessFacts {
  readonly ppid: number | undefined;
  readonly exe: string | undefined;
  readonly argv: readonly string[] | undefined;
  readonly cwd: string | undefined;
  readonly uid: number | undefined;
}

export interface ProcfsReader {
  facts(pid: number): ProcessFacts | undefined;
  cwd(pid: number): string | undefined;
  fdPath(pid: number, fd: number): string | undefined;
  realpath(path: string): string | undefined;
  /** See verifiedExecutable: the checked path of what pid runs, null if unverifiable, undefined if gone. */
  verifiedExe(pid: number, spelled?: string): string | null | undefined;
  /** See verifiedByInode: the checked path of `spelled` if it is the file the kernel named (dev, inode). */
  verifiedByInode?(spelled: string, kernelDev: number, ino: bigint): string | null;
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** The parent pid from /proc/<pid>/stat, whose comm field may hold spaces and parentheses. */
export function ppidFromStat(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

export const LIVE_PROCFS: ProcfsReader = {
  facts(pid: number): ProcessFacts | undefined {
    const stat = attempt(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (stat === undefined) return undefined;
    const cmdline = attempt(() => readFileSync(`/proc/${pid}/cmdline`));
    const argv = cmdline === undefined || cmdline.length === 0 ? undefined : cmdline.toString('utf8').replace(/\0$/, '').split('\0');
    const status = attempt(() => readFileSync(`/proc/${pid}/status`, 'utf8'));
    const uid = status === undefined ? undefined : Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1]);
    return {
      ppid: ppidFromStat(stat),
      exe: attempt(() => readlinkSync(`/proc/${pid}/exe`)),
      argv,
      cwd: attempt(() => readlinkSync(`/proc/${pid}/cwd`)),
      uid: uid === undefined || Number.isNaN(uid) ? undefined : uid,
    };
  },
  cwd: (pid) => attempt(() => readlinkSync(`/proc/${pid}/cwd`)),
  fdPath: (pid, fd) => attempt(() => readlinkSync(`/proc/${pid}/fd/${fd}`)),
  realpath: (path) => attempt(() => realpathSync.native(path)),
  verifiedExe: verifiedExecutable,
  verifiedByInode,
};
