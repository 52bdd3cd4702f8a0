// The detection store as an output of `run` and `watch`: each revision of a detection is
// committed to the store before the output call returns (see sqlite-detection-store.ts on
// crash safety), so a detection already reported elsewhere is in the store too.

import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from '../outputs/output.ts';
import { DETECTION_STATES, type DetectionState, type DetectionStore } from './detection-store.ts';

/** The revision fields of a detection (issue 14); read loosely: a detection from an older producer has none. */
interface RevisionFields {
  readonly revision?: unknown;
  readonly state?: unknown;
}

export class StoreOutput implements DetectionOutput {
  readonly name: string;
  /** Revision last recorded per detection still open (forgotten at close: watch's memory must not grow). */
  private readonly recorded = new Map<string, number>();

  constructor(private readonly store: DetectionStore) {
    this.name = `store ${store.path}`;
  }

  opened(detection: Detection): void {
    this.write(detection, 'open');
  }

  updated(detection: Detection): void {
    this.write(detection, 'updated');
  }

  closed(detection: Detection): void {
    this.write(detection, 'closed');
    this.recorded.delete(detection.id);
  }

  close(): void {
    this.store.close();
  }

  /**
   * The detection's own revision and state when it carries them; otherwise (a producer without
   * revisions) the opened detection is revision 1 and each later call one more. Throws when the
   * store cannot commit: the output queue keeps the revision and retries.
   */
  private write(detection: Detection, called: DetectionState): void {
    const own = detection as RevisionFields;
    const revision = typeof own.revision === 'number' && Number.isSafeInteger(own.revision) && own.revision > 0
      ? own.revision
      : (this.recorded.get(detection.id) ?? 0) + 1;
    const state = typeof own.state === 'string' && (DETECTION_STATES as readonly string[]).includes(own.state) ? own.state as DetectionState : called;
    this.store.record({ detection, revision, state });
    this.recorded.set(detection.id, revision);
  }
}
