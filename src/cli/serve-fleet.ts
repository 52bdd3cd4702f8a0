// `tripline serve --from nats://…`: the configuration serve reads (the store, and the NATS
// credentials, TLS files and stream of outputs.nats and TRIPLINE_NATS_*), and the collector
// (src/fleet/nats-collector.ts) it runs beside the dashboard until it stops.

import { ConfigError } from '../config/config-error.ts';
import type { NatsConfig } from '../config/nats-config.ts';
import { loadTriplineConfig, type TriplineConfig } from '../config/tripline-config.ts';
import { DEFAULT_CONSUMER, NatsCollector } from '../fleet/nats-collector.ts';
import { NatsSetupError } from '../fleet/nats-connection.ts';
import type { DetectionStore } from '../store/detection-store.ts';
import { hostname } from 'node:os';
import type { CommandIo } from './detection-session.ts';
import { UsageError } from './usage-error.ts';

/** The configuration with --from as the NATS URL (its problems named as --from's). */
export function loadServeConfig(options: { readonly config: string | undefined; readonly store: string | undefined; readonly from?: string | undefined }, io: CommandIo): TriplineConfig {
  try {
    return loadTriplineConfig({ config: options.config, store: options.store, ...(options.from === undefined ? {} : { outputs: [`nats=${options.from}`] }) }, io.env, io.cwd);
  } catch (error) {
    if (error instanceof ConfigError && options.from !== undefined && error.message.startsWith('--output nats')) {
      throw new UsageError(`serve: --from${error.message.slice('--output nats'.length)}`, { cause: error });
    }
    throw error;
  }
}

/** Starts the collector when --from was given (undefined otherwise); a credential file that cannot be used is a usage error. */
export function startServeCollector(nats: NatsConfig | undefined, consumer: string | undefined, store: DetectionStore, io: CommandIo,
  log: (line: string) => void): NatsCollector | undefined {
  if (nats === undefined || nats.source !== '--output nats') return undefined;
  try {
    return new NatsCollector({ config: nats, consumer: consumer ?? DEFAULT_CONSUMER, store, clientName: `tripline serve on ${hostname()}`, env: io.env, log });
  } catch (error) {
    store.close();
    if (error instanceof NatsSetupError) throw new UsageError(`serve: --from: ${error.message}`, { cause: error });
    throw error;
  }
}

/** One line of what the collector did. */
export function collectorSummary(collector: NatsCollector): string {
  const c = collector.counts;
  return `collected ${String(c.received)} message(s): ${String(c.recorded)} revision(s) stored, ${String(c.duplicates)} already stored, ${c.conflicts > 0 ? `${String(c.conflicts)} refused (an id of another host), ` : ''}${String(c.malformed)} malformed (terminated)${c.storeFailures > 0 ? `, ${String(c.storeFailures)} batch(es) the store could not commit (delivered again)` : ''}`;
}
