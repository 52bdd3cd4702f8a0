// Collects a detection's evidence: every path with its actions and times, the directories
// that counted, the processes involved; bounded so a full dump cannot grow it without limit.

import type { EvidenceFile } from '../model/detection.ts';
import type { FileAccess } from '../model/file-access.ts';
import type { AccessAction } from '../model/sensor-event.ts';
import type { Classification } from './access-classifier.ts';

interface FileAgg {
  path: string;
  actions: Set<AccessAction>;
  syscalls: Set<string>;
  count: number;
  firstMs: number;
  lastMs: number;
  succeeded: boolean;
  lastError: string | undefined;
  counted: boolean;
  pids: Set<number>;
  spelled: Set<string>;
}

const MAX_SPELLINGS = 5;

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

export class EvidenceAccumulator {
  private readonly files = new Map<string, FileAgg>();
  private readonly omitted = new Set<string>();
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

  add(access: FileAccess, c: Classification): void {
    this.accessCount++;
    this.firstMs = Math.min(this.firstMs, access.timeMs);
    this.lastMs = Math.max(this.lastMs, access.timeMs);
    this.pids.add(access.pid);
    if (c.changesConfiguration) this.configurationChanged = true;
    if (c.countedDir !== undefined && this.directories.size < this.directoryCapacity) this.directories.add(c.countedDir);
    let f = this.files.get(access.path);
    if (f === undefined) {
      if (this.files.size >= this.fileCapacity) {
        if (this.omitted.size < 1_000_000) this.omitted.add(access.path);
        return;
      }
      f = {
        path: access.path, actions: new Set(), syscalls: new Set(), count: 0, firstMs: access.timeMs, lastMs: access.timeMs,
        succeeded: false, lastError: undefined, counted: false, pids: new Set(), spelled: new Set(),
      };
      this.files.set(access.path, f);
    }
    f.actions.add(access.action);
    f.syscalls.add(access.syscall);
    f.count++;
    f.firstMs = Math.min(f.firstMs, access.timeMs);
    f.lastMs = Math.max(f.lastMs, access.timeMs);
    if (access.error === undefined) f.succeeded = true;
    else f.lastError = access.error;
    if (c.countedDir !== undefined) f.counted = true;
    f.pids.add(access.pid);
    if (access.spelled !== undefined && f.spelled.size < MAX_SPELLINGS) f.spelled.add(access.spelled);
  }

  summary(): EvidenceSummary {
    const files = [...this.files.values()]
      .sort((a, b) => a.firstMs - b.firstMs || (a.path < b.path ? -1 : 1))
      .map((f): EvidenceFile => ({
        path: f.path,
        actions: [...f.actions].sort(),
        syscalls: [...f.syscalls].sort(),
        count: f.count,
        first: new Date(f.firstMs).toISOString(),
        last: new Date(f.lastMs).toISOString(),
        result: f.succeeded ? 'ok' : (f.lastError ?? 'ok'),
        counted: f.counted,
        pids: [...f.pids].sort((a, b) => a - b),
        spelledAs: [...f.spelled],
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
