// `tripline serve`: the web dashboard over the detection store (src/serve/), until SIGINT or
// SIGTERM. Loopback only unless a token is given; the token comes from a file only its owner
// can read (--token-file) or TRIPLINE_SERVE_TOKEN, never from the command line (ps shows it).

import { resolve } from 'node:path';
import { documentTrust, readDocumentFile } from '../documents/document-file.ts';
import { visible } from '../model/visible.ts';
import { loadDashboardAssets } from '../serve/dashboard-assets.ts';
import { ServeRefusedError, startDashboardServer } from '../serve/dashboard-server.ts';
import { isLoopbackAddress, tokenProblem } from '../serve/request-guard.ts';
import { DetectionStoreError } from '../store/detection-store.ts';
import { openDetectionStore } from '../store/sqlite-detection-store.ts';
import { defaultStorePath } from '../store/store-location.ts';
import { parseCommandLine } from './command-line.ts';
import type { CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { SERVE_HELP } from './help-text.ts';
import { UsageError } from './usage-error.ts';
import { loadServeConfig, startServeCollector, collectorSummary } from './serve-fleet.ts';

export const DEFAULT_PORT = 7077;
export const DEFAULT_HOST = '127.0.0.1';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly config: string | undefined;
  /** --store; else TRIPLINE_STORE, the configuration's store.path, or the default store (created when absent). */
  readonly store: string | undefined;
  readonly tokenFile: string | undefined;
  /** --from nats://…: collect the fleet's detections from NATS JetStream into the store (docs/fleet.md). */
  readonly from?: string | undefined;
  /** --consumer: the durable consumer's name (default tripline-serve). */
  readonly consumer?: string | undefined;
}

export function parseServeOptions(args: readonly string[]): ServeOptions | 'help' {
  const o = parseCommandLine({
    command: 'serve',
    options: { port: { type: 'string' }, host: { type: 'string' }, config: { type: 'string' }, store: { type: 'string' }, 'token-file': { type: 'string' }, from: { type: 'string' }, consumer: { type: 'string' } },
    operands: 'none',
  }, args);
  if (o.help) return 'help';
  const portText = o.values.get('port') ?? String(DEFAULT_PORT);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new UsageError(`serve: --port "${portText}" is not a port; use 1 to 65535 (0: any free port)`);
  const host = o.values.get('host') ?? DEFAULT_HOST;
  if (!/^[A-Za-z0-9.:[\]%-]{1,255}$/.test(host)) throw new UsageError(`serve: --host "${host}" is not an address or host name`);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port: Number(portText), config: o.values.get('config'), store: o.values.get('store'), tokenFile: o.values.get('token-file'), ...fleetOptions(o.values) };
}

/** --from and --consumer, checked. */
function fleetOptions(values: ReadonlyMap<string, string>): Pick<ServeOptions, 'from' | 'consumer'> {
  const consumer = values.get('consumer');
  if (consumer !== undefined && values.get('from') === undefined) throw new UsageError('serve: --consumer names the NATS consumer of --from; give --from nats://HOST:4222 too');
  if (consumer !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(consumer)) throw new UsageError(`serve: --consumer "${visible(consumer.slice(0, 100))}" is not a JetStream name; use 1 to 64 letters, digits, _ or -`);
  return { from: values.get('from'), consumer };
}

/** The token from --token-file or TRIPLINE_SERVE_TOKEN (the file wins), checked; undefined when neither. */
export function readServeToken(tokenFile: string | undefined, io: CommandIo): string | undefined {
  if (tokenFile !== undefined) {
    const path = resolve(io.cwd, tokenFile);
    // As root, only a file nobody else could have written: whoever writes it chooses the token.
    // A link is followed (a Kubernetes secret volume is links): the mode is that of the file
    // read, from its open descriptor, never the link's own 0777.
    const read = readDocumentFile(path, documentTrust(io.env));
    if ('error' in read) throw new UsageError(`serve: --token-file ${tokenFile}: ${read.error}${read.hint === undefined ? '' : ` (${read.hint})`}`);
    const mode = read.mode;
    if ((mode & 0o044) !== 0) throw new UsageError(`serve: --token-file ${tokenFile}: readable by group or others (mode 0${(mode & 0o777).toString(8)}): anyone who reads it can open the dashboard; chmod 600 it`);
    const lines = read.text.replace(/\r?\n$/, '');
    if (lines.includes('\n')) throw new UsageError(`serve: --token-file ${tokenFile}: holds more than one line; put the token alone on the first line`);
    const problem = tokenProblem(lines);
    if (problem !== undefined) throw new UsageError(`serve: --token-file ${tokenFile}: the token cannot be used: ${problem}`);
    return lines;
  }
  const fromEnv = io.env.TRIPLINE_SERVE_TOKEN;
  if (fromEnv === undefined || fromEnv === '') return undefined;
  const problem = tokenProblem(fromEnv);
  if (problem !== undefined) throw new UsageError(`serve: TRIPLINE_SERVE_TOKEN cannot be used: ${problem}`);
  return fromEnv;
}

export async function serveCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseServeOptions(args);
  if (options === 'help') {
    io.stdout.write(`${SERVE_HELP}\n`);
    return EXIT.ok;
  }
  const token = readServeToken(options.tokenFile, io);
  if (token === undefined && !isLoopbackAddress(options.host)) {
    throw new UsageError(`serve: --host ${options.host} is not a loopback address: anyone who reaches it could read every detection, so a token is required (--token-file FILE, or TRIPLINE_SERVE_TOKEN)`);
  }
  const assets = loadDashboardAssets();
  // The store run and watch write: --store, TRIPLINE_STORE, the configuration, or the default.
  // --from takes the credentials, TLS files and stream of the configuration's outputs.nats (and TRIPLINE_NATS_*).
  const loaded = loadServeConfig(options, io);
  const chosen = loaded.store.path;
  if (chosen.value === null) throw new UsageError(`serve: no detection store (${chosen.source} turns it off); give --store PATH`);
  let store;
  try {
    // The default store is made when absent (serve may start before the first run); a store
    // named anywhere must exist: a typo would otherwise show an empty dashboard.
    store = openDetectionStore({ path: chosen.value ?? defaultStorePath(io.env), create: chosen.value === undefined });
  } catch (error) {
    if (error instanceof DetectionStoreError) throw new UsageError(`serve: ${error.message}`);
    throw error;
  }
  const log = (line: string): void => { io.stderr.write(`tripline serve: ${line}\n`); };
  const collector = startServeCollector(loaded.outputs.nats, options.consumer, store, io, log);
  let server;
  try {
    server = await startDashboardServer({ store, host: options.host, port: options.port, token, assets, log });
  } catch (error) {
    await collector?.stop();
    store.close();
    if (error instanceof ServeRefusedError) throw new UsageError(`serve: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') {
      throw new UsageError(`serve: cannot listen on ${options.host} port ${String(options.port)}: ${(error as Error).message}`);
    }
    throw error;
  }
  io.stdout.write(`tripline serve: ${server.url} (store ${visible(store.path)}${token === undefined ? '' : '; open it once with ?token=TOKEN, or send Authorization: Bearer TOKEN'})\n`);
  const listening = server;
  const stopped = await new Promise<NodeJS.Signals>((resolveStop) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await collector?.stop();
  if (collector !== undefined) log(collectorSummary(collector));
  await listening.close();
  store.close();
  io.stderr.write(`tripline serve: stopped (${stopped})\n`);
  return EXIT.ok;
}
