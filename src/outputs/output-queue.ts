// Feeds every output from one bounded queue: the sensor's thread of work only enqueues, the
// outputs are served soon after (setImmediate), an output that throws is turned off with a
// reason, and what a full queue had to drop is counted and reported.

import type { Detection } from '../model/detection.ts';
import type { DetectionOutput } from './output.ts';

export interface OutputEvent {
  readonly type: 'opened' | 'closed';
  readonly detection: Detection;
}

export class OutputQueue {
  private readonly pending: OutputEvent[] = [];
  private scheduled = false;
  private outputs: DetectionOutput[];
  /** Events a full queue dropped (the oldest opened notices go first, then anything). */
  dropped = 0;

  constructor(
    outputs: readonly DetectionOutput[],
    private readonly onFailure: (output: DetectionOutput, error: unknown) => void,
    private readonly capacity = 10_000,
  ) {
    this.outputs = [...outputs];
  }

  push(event: OutputEvent): void {
    if (this.pending.length >= this.capacity) {
      // Make room by dropping a live notice before ever dropping a final detection.
      const notice = this.pending.findIndex((e) => e.type === 'opened');
      if (notice < 0 && event.type === 'opened') {
        this.dropped++;
        return;
      }
      this.pending.splice(notice < 0 ? 0 : notice, 1);
      this.dropped++;
    }
    this.pending.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.drain();
      });
    }
  }

  /** Serves every pending event now. */
  drain(): void {
    this.scheduled = false;
    for (let e = this.pending.shift(); e !== undefined; e = this.pending.shift()) {
      const event = e;
      for (const o of this.outputs) {
        this.guard(o, () => {
          if (event.type === 'opened') o.opened?.(event.detection);
          else o.closed?.(event.detection);
        });
      }
    }
  }

  /** Serves what is pending, then closes every output (waiting for those that send over the network). */
  async close(): Promise<void> {
    this.drain();
    for (const o of this.outputs) {
      try {
        await o.close?.();
      } catch (error) {
        this.onFailure(o, error);
      }
    }
  }

  private guard(o: DetectionOutput, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.outputs = this.outputs.filter((x) => x !== o);
      this.onFailure(o, error);
    }
  }
}
