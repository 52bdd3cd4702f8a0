// What `watch` learned from /proc about each process, kept by pid and the process's start time
// (a pid is reused): read so that the answer belongs to the process that held the pid for the
// whole read, bounded in memory, and looked up for a process as a detection saw it (its
// first-seen time). Used for the CI step (step-attribution.ts) and the container
// (container-identity.ts) of each process.

/** Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on every Linux architecture Tripline runs on). */
const USER_HZ = 100;
/** How far a process's first-seen time may be before the kernel's start time of the same process. */
const START_TOLERANCE_MS = 1_500;

/** The start time in clock ticks since boot (field 22 of /proc/PID/stat; comm may hold spaces and parentheses). */
export function startTicksFromStat(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const ticks = Number(stat.slice(close + 2).split(' ')[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/**
 * `read(startMs)` for the process holding `pid` now: its start (wall clock ms, from its stat and
 * the boot time) is taken before, and the answer is dropped when the pid belongs to another
 * process after the read. `read` returns undefined for nothing to keep.
 */
export function readAsSameProcess<T>(
  stat: (pid: number) => string | undefined, pid: number, bootMs: number, read: (startMs: number) => T | undefined,
): { readonly startMs: number; readonly value: T } | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const before = stat(pid);
  const ticks = before === undefined ? undefined : startTicksFromStat(before);
  if (ticks === undefined) return undefined;
  const startMs = bootMs + (ticks * 1000) / USER_HZ;
  const value = read(startMs);
  if (value === undefined) return undefined;
  const after = stat(pid);
  if (after === undefined || startTicksFromStat(after) !== ticks) return undefined;
  return { startMs, value };
}

/** Entries by pid and start time: a few per pid (the oldest go first), pids least recently set forgotten first. */
export class ProcessHistory<T> {
  private readonly byPid = new Map<number, { readonly startMs: number; readonly value: T }[]>();

  constructor(private readonly pidLimit = 16_384, private readonly perPid = 4) {}

  has(pid: number, startMs: number): boolean {
    return this.byPid.get(pid)?.some((e) => e.startMs === startMs) === true;
  }

  /** The entry whose start is within `windowMs` of `startMs` (the same process, timed two ways), nearest first. */
  near(pid: number, startMs: number, windowMs: number): { readonly startMs: number; readonly value: T } | undefined {
    let best: { readonly startMs: number; readonly value: T } | undefined;
    for (const e of this.byPid.get(pid) ?? []) {
      const d = Math.abs(e.startMs - startMs);
      if (d <= windowMs && (best === undefined || d < Math.abs(best.startMs - startMs))) best = e;
    }
    return best;
  }

  /** Sets what is known of the process (pid, startMs): replaces its entry, else adds one. */
  set(pid: number, startMs: number, value: T): void {
    const list = (this.byPid.get(pid) ?? []).filter((e) => e.startMs !== startMs);
    list.push({ startMs, value });
    if (list.length > this.perPid) list.shift();
    // Most recently set last, so the first key is the one to forget.
    this.byPid.delete(pid);
    this.byPid.set(pid, list);
    if (this.byPid.size > this.pidLimit) {
      const oldest = this.byPid.keys().next().value;
      if (oldest !== undefined) this.byPid.delete(oldest);
    }
  }

  /** The entry of the pid's holder at a process's first-seen time (undefined: it predates the trace, so the latest). */
  at(pid: number, firstSeenMs: number | undefined): T | undefined {
    const list = this.byPid.get(pid);
    if (list === undefined) return undefined;
    const limit = firstSeenMs === undefined || Number.isNaN(firstSeenMs) ? Number.POSITIVE_INFINITY : firstSeenMs + START_TOLERANCE_MS;
    let best: { readonly startMs: number; readonly value: T } | undefined;
    for (const e of list) if (e.startMs <= limit && (best === undefined || e.startMs > best.startMs)) best = e;
    return best?.value;
  }
}
