// Which GitHub Actions step started a process: every process of a step inherits the step's
// environment, where GITHUB_ACTION names the step. `run` reads it from its own environment;
// `watch` reads /proc/PID/environ of each process when it execs or is first seen (root), keeps
// only that, and gives a detection the step of the outermost process of its chain that had one.
// Environments are attacker-controlled and full of secrets: only the step's variables are kept,
// bounded, and every output escapes them.

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { DetectionProcess } from '../model/detection.ts';
import type { CiContext, CiStep } from '../model/environment.ts';
import { ProcessHistory, readAsSameProcess } from './process-history.ts';

/** Longest step id kept (GitHub's ids are far shorter); longer ones are cut and marked. */
export const STEP_ID_LIMIT = 128;
/** Longest `owner/repo@ref` kept. */
export const STEP_ACTION_LIMIT = 256;
/** How much of a process's environment is read: the step's variables come early in a runner's. */
export const ENVIRON_READ_LIMIT = 256 * 1024;

function bounded(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

/** The step named by these variables (GITHUB_ACTION, GITHUB_ACTION_REPOSITORY, GITHUB_ACTION_REF), or undefined. */
export function stepFromVariables(get: (name: string) => string | undefined): CiStep | undefined {
  const id = get('GITHUB_ACTION');
  if (id === undefined || id === '') return undefined;
  const repository = get('GITHUB_ACTION_REPOSITORY') ?? '';
  const ref = get('GITHUB_ACTION_REF') ?? '';
  const action = repository === '' ? undefined : bounded(ref === '' ? repository : `${repository}@${ref}`, STEP_ACTION_LIMIT);
  return { id: bounded(id, STEP_ID_LIMIT), ...(action === undefined ? {} : { action }) };
}

const WANTED = ['GITHUB_ACTION', 'GITHUB_ACTION_REPOSITORY', 'GITHUB_ACTION_REF'].map((name) => Buffer.from(`${name}=`));

/**
 * The step in a process's environment (`/proc/PID/environ`: NAME=value entries, each ended by a
 * NUL). Only the wanted entries are decoded; `complete` false means the read stopped at a limit,
 * so the last entry may be cut and is not used.
 */
export function stepFromEnviron(environ: Buffer, complete = true): CiStep | undefined {
  const found = new Map<string, string>();
  let start = 0;
  while (start < environ.length) {
    let end = environ.indexOf(0, start);
    if (end < 0) {
      if (!complete) break;
      end = environ.length;
    }
    for (const prefix of WANTED) {
      if (end - start >= prefix.length && environ.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0) {
        const name = prefix.toString('latin1', 0, prefix.length - 1);
        // The first one counts, as getenv() sees it.
        if (!found.has(name)) found.set(name, environ.toString('utf8', start + prefix.length, Math.min(end, start + prefix.length + STEP_ACTION_LIMIT * 4)));
      }
    }
    start = end + 1;
  }
  return stepFromVariables((name) => found.get(name));
}

/** What is read of a live process: its stat line and the start of its environment. */
export interface ProcReader {
  stat(pid: number): string | undefined;
  /** Up to `limit` bytes of /proc/PID/environ, and whether that was all of it. */
  environ(pid: number, limit: number): { readonly bytes: Buffer; readonly complete: boolean } | undefined;
  /** The wall-clock time of boot, in ms (btime of /proc/stat). */
  bootTimeMs(): number | undefined;
}

let scratch: Buffer | undefined;

export const LIVE_PROC_READER: ProcReader = {
  stat(pid) {
    try {
      return readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    } catch {
      return undefined;
    }
  },
  environ(pid, limit) {
    let fd: number;
    try {
      fd = openSync(`/proc/${String(pid)}/environ`, 'r');
    } catch {
      return undefined;
    }
    try {
      scratch ??= Buffer.allocUnsafe(ENVIRON_READ_LIMIT + 1);
      const buffer = scratch.length > limit ? scratch : Buffer.allocUnsafe(limit + 1);
      let length = 0;
      for (;;) {
        const n = readSync(fd, buffer, length, limit + 1 - length, null);
        if (n === 0) break;
        length += n;
        if (length > limit) break;
      }
      // A copy: the scratch buffer is reused, and everything but the step is dropped by the caller.
      return { bytes: Buffer.from(buffer.subarray(0, Math.min(length, limit))), complete: length <= limit };
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  },
  bootTimeMs() {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      return m?.[1] === undefined ? undefined : Number(m[1]) * 1000;
    } catch {
      return undefined;
    }
  },
};

export { startTicksFromStat } from './process-history.ts';

/** The step of each process `watch` sees, read once per exec or first sight, bounded in memory. */
export class StepTracker {
  /** The step of each process seen (undefined: it had none). */
  private readonly seen = new ProcessHistory<CiStep | undefined>();
  private readonly bootMs: number | undefined;

  constructor(private readonly proc: ProcReader = LIVE_PROC_READER) {
    this.bootMs = proc.bootTimeMs();
  }

  /**
   * Reads the step of `pid` now, the first time it is asked for this process (at its exec, or
   * its first line): once per process. Never throws.
   */
  observe(pid: number): void {
    if (this.bootMs === undefined) return;
    // Read once per process (the sensor asks at its first line and at each exec); the pid must
    // still be the same process after the read (not one that got the pid meanwhile).
    const read = readAsSameProcess((p) => this.proc.stat(p), pid, this.bootMs, (startMs) => (this.seen.has(pid, startMs) ? undefined : this.proc.environ(pid, ENVIRON_READ_LIMIT)));
    if (read === undefined) return;
    const found = stepFromEnviron(read.value.bytes, read.value.complete);
    this.seen.set(pid, read.startMs, found === undefined ? undefined : { ...found, pid });
  }

  /** The step of one process as it was: the entry of the pid's holder at the process's first-seen time. */
  private stepOfProcess(p: DetectionProcess): CiStep | undefined {
    return this.seen.at(p.pid, p.start === null ? undefined : Date.parse(p.start));
  }

  /**
   * The step that started a detection's subject: the one named by the outermost process of its
   * chain (ancestry, from the top, then the subject) that had one. A process of a step can put
   * any GITHUB_ACTION in its children's environment; the step's own shell, which the runner
   * started, is above them.
   */
  stepOf(subject: DetectionProcess, ancestry: readonly DetectionProcess[]): CiStep | undefined {
    for (const p of [...ancestry].reverse()) {
      const step = this.stepOfProcess(p);
      if (step !== undefined) return step;
    }
    return this.stepOfProcess(subject);
  }
}

/**
 * The detection with its subject's step in `environment.ci` (for `watch`, whose own CI context
 * names the step that started tripline): `step`, or none when it is not known.
 */
export function withStep<D extends { readonly environment: { readonly ci: CiContext | null } }>(d: D, step: CiStep | undefined): D {
  const ci = d.environment.ci;
  if (ci === null) return d;
  const rest: { -readonly [K in keyof CiContext]: CiContext[K] } = { ...ci };
  delete rest.step;
  return { ...d, environment: { ...d.environment, ci: step === undefined ? rest : { ...rest, step } } };
}
