// Outputs: where detections go (terminal, JSON Lines, later SARIF, GitHub, webhook...). Each
// output receives detections as the engine opens and closes them, and is closed at the end.

import type { Detection } from '../model/detection.ts';

export interface DetectionOutput {
  /** A subject crossed the threshold; the evidence is what was known at that moment. */
  opened?(detection: Detection): void;
  /** The detection is final: its subject ended or the run did. */
  closed?(detection: Detection): void;
  close?(): void;
}
