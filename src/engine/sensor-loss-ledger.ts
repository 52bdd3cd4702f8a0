// What the sensor missed and when: counts of lost events by time and the gaps in which it
// was down, bounded, so a detection can say whether its subject lived through any of them.

import type { SensorLossEvent } from '../model/sensor-event.ts';

/** Loss records kept one by one; older ones are folded into one record at the oldest kept time. */
const MAX_RECORDS = 4096;
const MAX_GAPS = 256;

export interface LossWindow {
  readonly eventsLost: number;
  readonly gaps: readonly { readonly startMs: number; readonly endMs: number | null }[];
}

export class SensorLossLedger {
  private records: { timeMs: number; lost: number }[] = [];
  private gaps: { startMs: number; endMs: number | null }[] = [];
  /** Every event lost since the start. */
  totalLost = 0;

  note(event: SensorLossEvent): void {
    if (event.lost > 0) {
      this.totalLost += event.lost;
      this.records.push({ timeMs: event.timeMs, lost: event.lost });
      if (this.records.length > MAX_RECORDS) this.fold();
    }
    const gap = event.gap;
    if (gap !== undefined) {
      // A gap reported again with its end replaces the open one that started at the same time.
      const open = this.gaps.find((g) => g.startMs === gap.startMs && g.endMs === null);
      if (open !== undefined) open.endMs = gap.endMs;
      else this.gaps.push({ startMs: gap.startMs, endMs: gap.endMs });
      if (this.gaps.length > MAX_GAPS) this.gaps = this.gaps.slice(-MAX_GAPS);
    }
  }

  /** What was lost between `fromMs` and `toMs` (inclusive; -Infinity/Infinity for open ends). */
  within(fromMs: number, toMs: number): LossWindow {
    let eventsLost = 0;
    for (const r of this.records) if (r.timeMs >= fromMs && r.timeMs <= toMs) eventsLost += r.lost;
    const gaps = this.gaps.filter((g) => g.startMs <= toMs && (g.endMs === null || g.endMs >= fromMs));
    return { eventsLost, gaps };
  }

  /** Halves the records: the older half becomes one record (its times are then only as precise as that). */
  private fold(): void {
    const half = this.records.length >> 1;
    const older = this.records.slice(0, half);
    const lost = older.reduce((n, r) => n + r.lost, 0);
    const last = older[older.length - 1];
    this.records = [{ timeMs: last?.timeMs ?? 0, lost }, ...this.records.slice(half)];
  }
}
