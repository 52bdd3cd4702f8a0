// Collects a detection's evidence: every path with its actions and times, the directories
// that counted, the processes involved; bounded in every dimension, so neither a full dump nor
// a flood of distinct made-up paths or of processes can grow it without limit.

import type { EvidenceFile } from '../model/detection.ts';
import type { FileAccess } from '../model/file-access.ts';
import type { AccessAction } from '../model/sensor-event.ts';
import type { Classification } from './access-classifier.ts';

/** Other spellings kept per path. */
const MAX_SPELLINGS = 5;
/** Processes listed per path (the first ones seen). */
export const MAX_FILE_PIDS = 64;
/** Distinct system calls kept per path (the traced set is about twenty). */
const MAX_SYSCALLS = 16;
/** Processes kept per detection (the detection lists 64 of them as members). */
export const MAX_EVIDENCE_PIDS = 1024;
/**
 * Paths beyond the file list are counted, not kept: each as a 32-bit hash, so a flood of long
 * made-up names costs 4 bytes-ish each, and at most this many (the count is a lower bound after).
 */
export const MAX_OMITTED_COUNTED = 16_384;

const ACTION_BITS: Readonly<Record<AccessAction, number>> = { read: 1, readwrite: 2, write: 4, stat: 8, access: 16, list: 32, readlink: 64 };
const ACTIONS = Object.keys(ACTION_BITS) as AccessAction[];

/**
 * One path's aggregate, compact (a detection holds up to 256 of them, and a busy host many
 * detections at once): a bit mask for the actions, and a lone value rather than a list while
 * there is one syscall, one pid, no other spelling.
 */
interface FileAgg {
  readonly path: string;
  actions: number;
  syscalls: string | string[];
  count: number;
  firstMs: number;
  lastMs: number;
  succeeded: boolean;
  counted: boolean;
  lastError: string | undefined;
  pids: number | number[];
  spelled: string[] | undefined;
}

export interface EvidenceSummary {
  readonly directories: string[];
  readonly files: EvidenceFile[];
  readonly filesOmitted: number;
  readonly accessCount: number;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly configurationChanged: boolean;
  readonly pids: number[];
}

/** FNV-1a over the UTF-16 code units, 31 bits (a small integer: no allocation in the set). */
function pathHash(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h & 0x7fffffff;
}

/** `value` added to a lone value or a list of at most `max` distinct values. */
function withValue<T extends string | number>(current: T | T[], value: T, max: number): T | T[] {
  if (!Array.isArray(current)) return current === value ? current : [current, value];
  if (current.length < max && !current.includes(value)) current.push(value);
  return current;
}

function listOf<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? [...value] : [value];
}

/**
 * A copy of its own: a path may be a slice of a whole sensor line (which it would keep alive)
 * or a chain of concatenations; evidence keeps it for as long as the detection is open.
 */
function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

export class EvidenceAccumulator {
  private readonly files = new Map<string, FileAgg>();
  private readonly omitted = new Set<number>();
  private readonly directories = new Set<string>();
  private readonly pids = new Set<number>();
  private accessCount = 0;
  private firstMs = Infinity;
  private lastMs = -Infinity;
  private configurationChanged = false;

  constructor(
    private readonly fileCapacity: number,
    private readonly directoryCapacity: number,
  ) {}

  get directoryCount(): number {
    return this.directories.size;
  }

  /** Entries held (paths listed, omitted paths counted, directories, pids): bounded whatever comes in. */
  get retainedEntries(): number {
    let perFile = 0;
    for (const f of this.files.values()) perFile += listOf(f.pids).length + listOf(f.syscalls).length + (f.spelled?.length ?? 0);
    return this.files.size + perFile + this.omitted.size + this.directories.size + this.pids.size;
  }

  /**
   * Adds one access. True when the evidence grew in a way worth a revision: a new file (listed
   * or counted as omitted), directory or process, a first success or a first count for a file,
   * or the configuration-change flag set. A repeated read of a known file is not news.
   */
  add(access: FileAccess, c: Classification): boolean {
    const before = this.pids.size + this.directories.size + this.files.size + this.omitted.size;
    const wasChanged = this.configurationChanged;
    this.accessCount++;
    this.firstMs = Math.min(this.firstMs, access.timeMs);
    this.lastMs = Math.max(this.lastMs, access.timeMs);
    if (this.pids.size < MAX_EVIDENCE_PIDS) this.pids.add(access.pid);
    if (c.changesConfiguration) this.configurationChanged = true;
    if (c.countedDir !== undefined && this.directories.size < this.directoryCapacity) this.directories.add(c.countedDir);
    const grew = (): boolean => wasChanged !== this.configurationChanged || before !== this.pids.size + this.directories.size + this.files.size + this.omitted.size;
    let f = this.files.get(access.path);
    if (f === undefined) {
      if (this.files.size >= this.fileCapacity) {
        if (this.omitted.size < MAX_OMITTED_COUNTED) this.omitted.add(pathHash(access.path));
        return grew();
      }
      const path = ownCopy(access.path);
      f = {
        path, actions: 0, syscalls: access.syscall, count: 0, firstMs: access.timeMs, lastMs: access.timeMs,
        succeeded: false, counted: false, lastError: undefined, pids: access.pid, spelled: undefined,
      };
      this.files.set(path, f);
    }
    f.syscalls = withValue(f.syscalls, access.syscall, MAX_SYSCALLS);
    f.count++;
    f.firstMs = Math.min(f.firstMs, access.timeMs);
    f.lastMs = Math.max(f.lastMs, access.timeMs);
    // A known file's news: a new kind of access (a write after reads), a first success, a first count.
    const news = (f.actions & ACTION_BITS[access.action]) === 0 || (access.error === undefined && !f.succeeded) || (c.countedDir !== undefined && !f.counted);
    if (access.error === undefined) f.succeeded = true;
    else f.lastError = access.error;
    if (c.countedDir !== undefined) f.counted = true;
    f.actions |= ACTION_BITS[access.action];
    f.pids = withValue(f.pids, access.pid, MAX_FILE_PIDS);
    if (access.spelled !== undefined && (f.spelled?.length ?? 0) < MAX_SPELLINGS && f.spelled?.includes(access.spelled) !== true) {
      (f.spelled ??= []).push(ownCopy(access.spelled));
    }
    return news || grew();
  }

  summary(): EvidenceSummary {
    const files = [...this.files.values()]
      .sort((a, b) => a.firstMs - b.firstMs || (a.path < b.path ? -1 : 1))
      .map((f): EvidenceFile => ({
        path: f.path,
        actions: ACTIONS.filter((a) => (f.actions & ACTION_BITS[a]) !== 0).sort(),
        syscalls: listOf(f.syscalls).sort(),
        count: f.count,
        first: new Date(f.firstMs).toISOString(),
        last: new Date(f.lastMs).toISOString(),
        result: f.succeeded ? 'ok' : (f.lastError ?? 'ok'),
        counted: f.counted,
        pids: listOf(f.pids).sort((a, b) => a - b),
        spelledAs: [...(f.spelled ?? [])],
      }));
    return {
      directories: [...this.directories].sort(),
      files,
      filesOmitted: this.omitted.size,
      accessCount: this.accessCount,
      firstMs: this.firstMs,
      lastMs: this.lastMs,
      configurationChanged: this.configurationChanged,
      pids: [...this.pids].sort((a, b) => a - b),
    };
  }
}
