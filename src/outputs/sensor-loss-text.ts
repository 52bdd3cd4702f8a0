// How every output says that a detection's evidence may be incomplete: the events the sensor
// lost while the subject was live, and when it was down. One wording, so the report, the
// notice, SARIF, JUnit and GitHub say the same thing. Plain text: each output escapes it.

import type { Detection } from '../model/detection.ts';

/** Gaps named one by one; further ones are counted. */
const GAPS_NAMED = 3;

/** Whether the detection's evidence may be incomplete (the sensor lost events or was down while its subject was live). */
export function isIncomplete(d: Detection): boolean {
  return !d.sensor.complete;
}

function plural(n: number, word: string): string {
  return `${String(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** "20:01:02", with the date when it is not the detection's day; "?" for what is not a time. */
function clock(iso: string, day: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '?';
  const t = new Date(ms).toISOString();
  return t.slice(0, 10) === day ? t.slice(11, 19) : `${t.slice(0, 10)} ${t.slice(11, 19)}`;
}

/**
 * What the sensor missed, in parts: "12 events lost while this process ran", "sensor down
 * 20:01:02–20:01:05 UTC". Empty for a complete detection.
 */
export function sensorLossParts(d: Detection): string[] {
  if (!isIncomplete(d)) return [];
  const s = d.sensor;
  const parts: string[] = [];
  const during = d.subject.scope === 'process-tree' ? 'while this process tree ran' : 'while this process ran';
  if (s.eventsLost > 0) parts.push(`${plural(s.eventsLost, 'event')} lost ${during}`);
  if (s.gaps.length > 0) {
    const day = clock(d.time, '').slice(0, 10);
    const named = s.gaps.slice(0, GAPS_NAMED).map((g) => (g.end === null
      ? `from ${clock(g.start, day)} (not back when this was written)`
      : `${clock(g.start, day)}–${clock(g.end, day)}`));
    const more = s.gaps.length > GAPS_NAMED ? ` and ${plural(s.gaps.length - GAPS_NAMED, 'more time')}` : '';
    parts.push(`sensor down ${named.join(', ')} UTC${more}`);
  }
  // complete is false but neither count says why (an event edited by hand): still say it.
  if (parts.length === 0) parts.push('the sensor reported a loss');
  return parts;
}

/** "evidence may be incomplete: 12 events lost while this process ran; sensor down ...", or undefined when complete. */
export function sensorLossText(d: Detection): string | undefined {
  const parts = sensorLossParts(d);
  return parts.length === 0 ? undefined : `evidence may be incomplete: ${parts.join('; ')}`;
}

/** The short form for one-line places: "12 events lost, sensor down", or undefined when complete. */
export function sensorLossShort(d: Detection): string | undefined {
  if (!isIncomplete(d)) return undefined;
  const s = d.sensor;
  const parts = [...(s.eventsLost > 0 ? [`${plural(s.eventsLost, 'event')} lost`] : []), ...(s.gaps.length > 0 ? ['sensor down'] : [])];
  return parts.length === 0 ? 'sensor loss' : parts.join(', ');
}

/** Counts over many detections, kept as they pass (an output may keep none of them). */
export class SensorLossTally {
  detections = 0;
  incomplete = 0;
  /** Incomplete detections whose sensor lost events, and those whose sensor was down. */
  withLostEvents = 0;
  withGaps = 0;
  /** The most events one detection's subject lived through; detections overlap, so no sum is exact. */
  mostLost = 0;

  add(d: Detection): void {
    this.detections++;
    if (!isIncomplete(d)) return;
    this.incomplete++;
    if (d.sensor.eventsLost > 0) this.withLostEvents++;
    if (d.sensor.gaps.length > 0) this.withGaps++;
    this.mostLost = Math.max(this.mostLost, d.sensor.eventsLost);
  }

  /** Why the incomplete ones are: "sensor lost events", "sensor was down", or both. */
  reason(): string {
    const why = [...(this.withLostEvents > 0 ? ['lost events'] : []), ...(this.withGaps > 0 ? ['was down'] : [])];
    return why.length === 0 ? 'sensor reported a loss' : `sensor ${why.join(', ')}`;
  }

  /** "2 incomplete (sensor lost events)", or undefined when every detection is complete. */
  brief(): string | undefined {
    return this.incomplete === 0 ? undefined : `${String(this.incomplete)} incomplete (${this.reason()})`;
  }
}

export function tallyOf(detections: Iterable<Detection>): SensorLossTally {
  const tally = new SensorLossTally();
  for (const d of detections) tally.add(d);
  return tally;
}
