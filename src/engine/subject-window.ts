// Sliding-window breadth counter for one subject: which directories it touched recently, who
// contributed each touch, and the recent accesses kept as evidence should the subject fire.

import type { FileAccess } from '../model/file-access.ts';

interface Contribution {
  lastMs: number;
  /** The actor (exec'd process) the access came from; used to purge a subtree that fired on its own. */
  actor: number;
}

interface DirEntry {
  lastMs: number;
  /** Key: `${pid}\0${p|f}\0${path}`, "p" for a metadata probe (retractable), "f" for a read or listing. */
  contributions: Map<string, Contribution>;
}

export interface WindowedAccess {
  readonly access: FileAccess;
  readonly actor: number;
}

export function contributionKey(pid: number, probe: boolean, path: string): string {
  return `${pid}\0${probe ? 'p' : 'f'}\0${path}`;
}

export class SubjectWindow {
  private readonly dirs = new Map<string, DirEntry>();
  private evidence: WindowedAccess[] = [];
  private evidenceHead = 0;
  lastMs = 0;

  constructor(
    readonly windowMs: number,
    private readonly evidenceCapacity: number,
  ) {}

  /** Records an access as evidence, and as a counted touch of `dir` when `dir` is given. */
  add(access: FileAccess, actor: number, dir: string | undefined, key: string): void {
    const now = access.timeMs;
    this.lastMs = Math.max(this.lastMs, now);
    this.trim(now);
    this.evidence.push({ access, actor });
    if (this.evidence.length - this.evidenceHead > this.evidenceCapacity) this.evidenceHead++;
    if (dir === undefined) return;
    let entry = this.dirs.get(dir);
    if (entry === undefined) {
      entry = { lastMs: now, contributions: new Map() };
    } else {
      // Re-insert so the map stays ordered by last touch, oldest first.
      this.dirs.delete(dir);
      entry.lastMs = Math.max(entry.lastMs, now);
    }
    this.dirs.set(dir, entry);
    const c = entry.contributions.get(key);
    if (c === undefined) entry.contributions.set(key, { lastMs: now, actor });
    else c.lastMs = Math.max(c.lastMs, now);
  }

  /** Distinct directories touched within the window ending at `nowMs`. */
  distinctDirectories(nowMs: number): number {
    this.trim(nowMs);
    return this.dirs.size;
  }

  /** Withdraws a metadata probe that turned out to be the preparation of a write. */
  retract(dir: string, key: string): boolean {
    const entry = this.dirs.get(dir);
    if (entry?.contributions.delete(key) !== true) return false;
    if (entry.contributions.size === 0) this.dirs.delete(dir);
    return true;
  }

  /** Removes every contribution from actors for which `fromActor` is true (a subtree that fired on its own). */
  purge(fromActor: (actor: number) => boolean): void {
    for (const [dir, entry] of this.dirs) {
      for (const [key, c] of entry.contributions) {
        if (fromActor(c.actor)) entry.contributions.delete(key);
      }
      if (entry.contributions.size === 0) this.dirs.delete(dir);
    }
    this.evidence = this.windowedEvidence().filter((e) => !fromActor(e.actor));
    this.evidenceHead = 0;
  }

  /** The counted directories as they stand, each with the actors that contributed to it. */
  contributors(): Map<string, Set<number>> {
    const out = new Map<string, Set<number>>();
    for (const [dir, entry] of this.dirs) out.set(dir, new Set([...entry.contributions.values()].map((c) => c.actor)));
    return out;
  }

  /** The accesses kept as evidence, oldest first. */
  windowedEvidence(): WindowedAccess[] {
    return this.evidence.slice(this.evidenceHead);
  }

  private trim(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    for (const [dir, entry] of this.dirs) {
      if (entry.lastMs >= cutoff) break;
      this.dirs.delete(dir);
    }
    // Contributions can outlive their time in a directory kept alive by a newer one; drop those too.
    for (const [dir, entry] of this.dirs) {
      for (const [key, c] of entry.contributions) if (c.lastMs < cutoff) entry.contributions.delete(key);
      if (entry.contributions.size === 0) this.dirs.delete(dir);
    }
    while (this.evidenceHead < this.evidence.length && (this.evidence[this.evidenceHead]?.access.timeMs ?? 0) < cutoff) this.evidenceHead++;
    if (this.evidenceHead > 1024 && this.evidenceHead * 2 > this.evidence.length) {
      this.evidence = this.evidence.slice(this.evidenceHead);
      this.evidenceHead = 0;
    }
  }
}
