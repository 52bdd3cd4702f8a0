// Keeps a sensor observing and makes every moment it did not observe part of the record: when
// the sensor dies, a gap opens (a sensor-loss event, so detections of processes alive then say
// their evidence may be incomplete); `watch` restarts it with backoff and closes the gap once it
// observes again; `run` does not restart (the command goes on unobserved, and the outcome says so).

import type { SensorEvent, TimeMs } from '../model/sensor-event.ts';
import { visible } from '../model/visible.ts';
import type { Sensor, SensorObserver } from './sensor.ts';

export interface SupervisorOptions {
  /** Builds the sensor with the observer the supervisor gives it. */
  readonly create: (observer: SensorObserver) => Sensor;
  /** Where events go, gap events included. */
  readonly onEvents: (events: readonly SensorEvent[]) => void;
  /** One printable line for the reader (already escaped). */
  readonly say: (line: string) => void;
  /** Restart a sensor that died (watch), waiting these delays in turn (the last one repeats); none for run. */
  readonly restartDelaysMs?: readonly number[];
  /** Wait before a restart (a timer; tests pass one that fires at once). */
  readonly schedule?: (run: () => void, delayMs: number) => { cancel(): void };
}

/** Restart delays for a daemon: quick at first, then every 30 s. */
export const WATCH_RESTART_DELAYS_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 30_000];

const timer = (run: () => void, delayMs: number): { cancel(): void } => {
  const t = setTimeout(run, delayMs);
  return {
    cancel: () => {
      clearTimeout(t);
    },
  };
};

export class SensorSupervisor {
  readonly sensor: Sensor;
  /** Times the sensor was restarted successfully or not (each try counts). */
  restarts = 0;
  /** Gaps that ended: nothing was observed between start and end. */
  readonly gaps: { readonly startMs: TimeMs; readonly endMs: TimeMs }[] = [];
  /** Since when nothing is observed, while the sensor is down. */
  gapStartMs: TimeMs | undefined;
  /** Why the sensor last died, if it did. */
  diedReason: string | undefined;
  private stopping = false;
  private pending: { cancel(): void } | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.sensor = options.create({
      onEvents: options.onEvents,
      onDied: (reason, lastSeenMs) => {
        this.died(reason, lastSeenMs);
      },
    });
  }

  /** Gaps so far, the open one included. */
  get gapCount(): number {
    return this.gaps.length + (this.gapStartMs === undefined ? 0 : 1);
  }

  async start(): Promise<void> {
    await this.sensor.start();
  }

  /** Stops the sensor (after it delivered what came before) and closes an open gap at now. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.pending?.cancel();
    this.pending = undefined;
    await this.sensor.stop();
    if (this.gapStartMs !== undefined) {
      const now = this.sensor.nowMs();
      this.options.onEvents([{ kind: 'sensor-loss', timeMs: now, lost: 0, gap: { startMs: this.gapStartMs, endMs: now } }]);
    }
  }

  private died(reason: string, lastSeenMs?: TimeMs): void {
    this.diedReason = reason;
    if (this.stopping) return;
    if (this.gapStartMs === undefined) {
      this.gapStartMs = lastSeenMs ?? this.sensor.nowMs();
      // Detections of processes live from now on say their evidence may be incomplete.
      this.options.onEvents([{ kind: 'sensor-loss', timeMs: this.gapStartMs, lost: 0, gap: { startMs: this.gapStartMs, endMs: null } }]);
    }
    const delays = this.options.restartDelaysMs;
    if (delays === undefined || delays.length === 0) return;
    const since = new Date(this.gapStartMs).toISOString();
    const delay = delays[Math.min(this.restarts, delays.length - 1)] ?? 30_000;
    this.restarts++;
    this.options.say(`tripline: warning: ${reason}; nothing is watched from ${since}; restarting in ${delay / 1000} s`);
    this.pending = (this.options.schedule ?? timer)(() => {
      this.pending = undefined;
      if (this.stopping) return;
      this.sensor.start().then(
        () => {
          const startMs = this.gapStartMs ?? this.sensor.nowMs();
          const endMs = this.sensor.nowMs();
          this.gapStartMs = undefined;
          this.gaps.push({ startMs, endMs });
          this.options.onEvents([{ kind: 'sensor-loss', timeMs: endMs, lost: 0, gap: { startMs, endMs } }]);
          this.options.say(`tripline: watching again; the gap ran from ${since} to ${new Date(endMs).toISOString()} (what happened then, and what the sensor had not yet delivered, was not seen)`);
        },
        (error: unknown) => {
          this.died(`restarting ${this.sensor.describe().name} failed: ${visible((error as Error).message)}`);
        },
      );
    }, delay);
  }
}
