// The model of a traced process as the normalizer knows it: identity, lineage and life.

import type { TimeMs } from './sensor-event.ts';

export interface ProcessInfo {
  /** Thread-group id (what ps calls the pid). */
  readonly pid: number;
  /** The process that forked this one (not the reaper it may be re-parented to); undefined if unseen. */
  readonly ppid: number | undefined;
  /** Path of the last successful exec, canonicalized; inherited from the parent until then. */
  readonly exe: string | undefined;
  /**
   * The executable file itself, verified in a live run (what /proc/PID/exe shows, /usr/bin/dash
   * for /bin/sh, and that file is the one at that path here): a canonical path; null when a live
   * run could not verify it (replaced, deleted, another mount namespace, or gone before the
   * check); undefined when not checked (replays). Exceptions on executables match only this in
   * live runs.
   */
  readonly verifiedExe: string | null | undefined;
  /** argv of the last successful exec; inherited from the parent until then. */
  readonly argv: readonly string[];
  readonly argvTruncated: boolean;
  /** Current working directory (canonical) when known. */
  readonly cwd: string | undefined;
  readonly uid: number | undefined;
  readonly startMs: TimeMs | undefined;
  readonly exitMs: TimeMs | undefined;
  readonly exitCode: number | undefined;
  readonly exitSignal: string | undefined;
  /** True once this process has run an exec of its own (a fork that did not exec is the same program as its parent). */
  readonly execed: boolean;
  /**
   * The image the parent ran when it forked this process (its exe and verified exe then); the
   * parent may exec another program since. Undefined when the fork was not seen.
   */
  readonly forkedBy?: { readonly exe: string | undefined; readonly verifiedExe: string | null | undefined } | undefined;
}

/** Basename of an exe path or argv[0], the way ps shows a command. */
export function commandName(p: Pick<ProcessInfo, 'exe' | 'argv'>): string {
  const source = p.exe ?? p.argv[0] ?? '?';
  const slash = source.lastIndexOf('/');
  return slash >= 0 ? source.slice(slash + 1) : source;
}
