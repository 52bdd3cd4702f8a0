// Outputs: where detections go (terminal, JSON Lines, SARIF, GitHub, JUnit, webhook...). Each
// output receives the revisions of each detection it has a method for, in order (opened, any
// number of updated, closed), and is closed at the end.

import type { Detection } from '../model/detection.ts';

export interface DetectionOutput {
  /** Short name for warnings and summaries ("jsonl /var/log/x.jsonl", "webhook https://…"). */
  readonly name: string;
  /** A subject crossed the threshold; the evidence is what was known at that moment (revision 1, state open). */
  opened?: ((detection: Detection) => void) | undefined;
  /**
   * The evidence of an open detection grew (state updated, a higher revision, same id): at most
   * one a second per detection, and a revision may be skipped when a later one supersedes it
   * (a full queue), so a consumer keeps the highest revision of each id. Must not block.
   */
  updated?: ((detection: Detection) => void) | undefined;
  /**
   * The detection is final: its subject ended or the run did. Must not block (queue and
   * return). Throwing means "not written": the queue keeps it and calls again later with the
   * same object, so an output that wrote part of it can finish the rest.
   */
  closed?: ((detection: Detection) => void) | undefined;
  /**
   * Gets ready to write again after a failure or a log rotation (SIGHUP): a file output opens
   * its path afresh when the path no longer names the file it has open. Throws when it cannot.
   */
  reopen?(): void;
  /** Writes what is pending (a report file, queued HTTP posts) and releases resources. */
  close?(): void | Promise<void>;
}
