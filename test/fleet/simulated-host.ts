// Helper of the fleet tests and bench: a simulated host publishing with the real output code,
// as `run` and `watch` do: its own detection store file, the StoreOutput recording each
// revision, then the NatsOutput told of it (sending from the store's outbox). Detections are
// copies of one made by the real pipeline from a recorded strace run, with the host's name.

import { join } from 'node:path';
import type { NatsConfig } from '../../src/config/nats-config.ts';
import { NatsOutput } from '../../src/fleet/nats-output.ts';
import type { Detection } from '../../src/model/detection.ts';
import type { DetectionStore } from '../../src/store/detection-store.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { StoreOutput } from '../../src/store/store-output.ts';
import { replayFixture } from '../replay-strace-fixture.ts';

let base: Detection | undefined;

/** A detection made by the real pipeline (a recorded `sysctl -a`), the template of every simulated one. */
export function templateDetection(): Detection {
  base ??= replayFixture('sysctl-a.strace').closed[0];
  if (base === undefined) throw new Error('the sysctl-a fixture made no detection');
  return base;
}

/** A typical detection: that one with its file list cut to 16 entries (the full list is 256 files, 74 kB of JSON). */
export function typicalDetection(): Detection {
  const t = templateDetection();
  return { ...t, evidence: { ...t.evidence, files: t.evidence.files.slice(0, 16), filesOmitted: t.evidence.filesOmitted + Math.max(0, t.evidence.files.length - 16) } };
}

/** NATS settings for the tests: the server, the defaults of nats-config.ts, a short drain. */
export function testNatsConfig(url: string, overrides: Partial<NatsConfig> = {}): NatsConfig {
  return {
    url, source: '--output nats', stream: 'TRIPLINE_DETECTIONS',
    credsFile: undefined, user: undefined, passwordFile: undefined, tokenFile: undefined, tlsCa: undefined, tlsCert: undefined, tlsKey: undefined,
    maxAgeMs: 86_400_000, maxBytes: 1024 ** 3, duplicateWindowMs: 600_000, drainTimeoutMs: 30_000, ...overrides,
  };
}

export class SimulatedHost {
  readonly store: DetectionStore;
  readonly nats: NatsOutput;
  readonly warnings: string[] = [];
  private readonly output: StoreOutput;
  private made = 0;

  /** `template`: the detection every one made is a copy of (default: templateDetection()). */
  constructor(readonly name: string, dir: string, config: NatsConfig, private readonly template?: Detection) {
    this.store = openDetectionStore({ path: join(dir, `${name}.db`), create: true });
    this.output = new StoreOutput(this.store);
    this.nats = new NatsOutput({ config, store: this.store, clientName: `test ${name}`, env: {}, warn: (m) => { this.warnings.push(m); } });
  }

  /** Makes one detection (opened, then closed: two revisions), recorded through StoreOutput as a session does, each then handed to NATS; returns its id. */
  detect(time = new Date()): string {
    const opened = this.next(time);
    this.output.opened(opened);
    this.nats.opened();
    this.output.closed({ ...opened, revision: 2, state: 'closed' });
    this.nats.closed();
    return opened.id;
  }

  /**
   * Makes `count` detections at once, both revisions of each committed in one transaction
   * (one fsync: a disk that takes 15 ms per commit would otherwise bound a simulated host
   * at 30 detections a second), then tells NATS; returns their ids.
   */
  detectMany(count: number, time = new Date()): string[] {
    const made = Array.from({ length: count }, () => this.next(time));
    this.store.recordBatch(made.flatMap((d) => [
      { detection: d, revision: 1, state: 'open' as const },
      { detection: { ...d, revision: 2, state: 'closed' }, revision: 2, state: 'closed' as const },
    ]));
    this.nats.closed();
    return made.map((d) => d.id);
  }

  private next(time: Date): Detection {
    this.made++;
    const t = this.template ?? templateDetection();
    return { ...t, id: `${this.name}-${String(this.made)}`, time: time.toISOString(), host: { ...t.host, hostname: this.name }, revision: 1, state: 'open' };
  }

  /** Waits for the outbox to drain (bounded), disconnects, closes the store. */
  /** Idempotent: a test closes its hosts, and its cleanup closes them again if it failed first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.nats.close();
    this.store.close();
  }

  private closed = false;
}
