// Outputs: where detections go (terminal, JSON Lines, SARIF, GitHub, JUnit, webhook...). Each
// output receives detections as the engine opens and closes them, and is closed at the end.

import type { Detection } from '../model/detection.ts';

export interface DetectionOutput {
  /** Short name for warnings ("sarif /tmp/x.sarif", "webhook https://…"). */
  readonly name?: string;
  /** A subject crossed the threshold; the evidence is what was known at that moment. */
  opened?(detection: Detection): void;
  /** The detection is final: its subject ended or the run did. Must not block (queue and return). */
  closed?(detection: Detection): void;
  /** Writes what is pending (a report file, queued HTTP posts) and releases resources. */
  close?(): void | Promise<void>;
}
