// JSON Lines: every revision of every detection, one per line, written the moment the engine
// makes it (opened, updated, closed: same id, growing revision), or with `finalOnly` the closed
// revision alone, one line per detection. Each line is written synchronously, so a crash later
// cannot lose it. A failed write throws (the output queue keeps the revision and retries); a
// line written in part is finished, never begun again, so the file stays valid.

import { closeSync, fstatSync, statSync, writeSync } from 'node:fs';
import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';
import { openOutputFile } from './output-file.ts';
import { visibleJson } from '../model/visible.ts';

/**
 * Opens the output file: the one place a JSONL file is opened (first and on every reopen),
 * so a stricter way of opening output files needs changing here only.
 */
export function openJsonlFile(path: string, append: boolean): number {
  return openOutputFile(path, { append });
}

/** The rest of a line the file got only part of (disk full in the middle of a write). */
interface PartialLine {
  readonly detection: Detection;
  rest: Buffer;
}

/** How the output reaches the file; tests give failing ones (a full disk, a short write). */
export interface JsonlFileAccess {
  readonly open: (path: string, append: boolean) => number;
  /** Writes from `buffer[offset]` on; returns how many bytes the file took. */
  readonly write: (fd: number, buffer: Buffer, offset: number) => number;
}

const REAL_FILE: JsonlFileAccess = {
  open: openJsonlFile,
  write: (fd, buffer, offset) => writeSync(fd, buffer, offset),
};

export interface JsonlOptions {
  /** Only the closed revision of each detection (one line per detection); else every revision. */
  readonly finalOnly?: boolean;
}

export class JsonlOutput implements DetectionOutput {
  readonly name: string;
  readonly opened: ((detection: Detection) => void) | undefined;
  readonly updated: ((detection: Detection) => void) | undefined;
  private fd: number | undefined;
  private partial: PartialLine | undefined;
  /** A detection whose partial line was finished in a rotated file: its retry writes nothing. */
  private finished: Detection | undefined;

  /** `append` keeps what a previous run of a daemon wrote; otherwise the file starts empty. */
  constructor(readonly path: string, append = false, private readonly file: JsonlFileAccess = REAL_FILE, options: JsonlOptions = {}) {
    this.name = `jsonl ${path}`;
    this.fd = file.open(path, append);
    // The queue offers an output only the kinds of revision it has a method for.
    const write = (detection: Detection): void => { this.write(detection); };
    this.opened = options.finalOnly === true ? undefined : write;
    this.updated = options.finalOnly === true ? undefined : write;
  }

  closed(detection: Detection): void {
    this.write(detection);
  }

  private write(detection: Detection): void {
    if (this.finished === detection) {
      this.finished = undefined;
      return;
    }
    if (this.partial !== undefined && this.partial.detection !== detection) {
      // The line begun is no longer wanted (dropped by the queue): finish it anyway, as begun,
      // so the next line starts on a line of its own.
      this.writeRest(this.partial);
    }
    const fd = this.openFd();
    const line = this.partial?.rest ?? Buffer.from(`${visibleJson(detection)}\n`);
    this.partial = undefined;
    let done = 0;
    try {
      while (done < line.length) done += this.file.write(fd, line, done);
    } catch (error) {
      if (done > 0) this.partial = { detection, rest: line.subarray(done) };
      throw error;
    }
  }

  /**
   * Opens the path again if it no longer names the file open (renamed by log rotation,
   * deleted): the new file is appended to, never truncated. A line begun in the old file is
   * finished there first when it can be.
   */
  reopen(): void {
    if (this.fd !== undefined && sameFile(this.fd, this.path)) return;
    const old = this.fd;
    const fd = this.file.open(this.path, true);
    if (old !== undefined) {
      const partial = this.partial;
      if (partial !== undefined) {
        try {
          this.writeRest(partial);
          this.finished = partial.detection;
        } catch {
          // The old file keeps a cut line; the whole line goes to the new file.
        }
        this.partial = undefined;
      }
      try {
        closeSync(old);
      } catch {
        // already unusable: that is why it was replaced
      }
    }
    this.fd = fd;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    this.fd ??= this.file.open(this.path, true);
    return this.fd;
  }

  private writeRest(partial: PartialLine): void {
    const fd = this.openFd();
    while (partial.rest.length > 0) partial.rest = partial.rest.subarray(this.file.write(fd, partial.rest, 0));
    this.partial = undefined;
  }
}

/** Whether `path` still names the file open on `fd` (same device and inode). */
function sameFile(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd);
    const named = statSync(path);
    return open.dev === named.dev && open.ino === named.ino;
  } catch {
    return false;
  }
}
