// JSON Lines: one final detection per line, written as soon as it is final so a crash later
// in the run cannot lose it.

import { closeSync, writeSync } from 'node:fs';
import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';
import { openOutputFile } from './output-file.ts';

export class JsonlOutput implements DetectionOutput {
  private fd: number | undefined;

  /** `append` keeps what a previous run of a daemon wrote; otherwise the file starts empty. */
  constructor(readonly path: string, append = false) {
    this.fd = openOutputFile(path, { append });
  }

  closed(detection: Detection): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(detection)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
