// The NATS JetStream settings of the fleet transport (docs/fleet.md): the publishing output of
// run and watch (`--output nats=URL`, `outputs.nats` in tripline.yaml) and the collector of
// `serve --from URL`. Credentials are files named here, read later with the root trust rule;
// a secret never comes from the command line or the URL (ps and shell history show both).

import { resolve } from 'node:path';
import { ConfigError } from './config-error.ts';
import { parseByteSize, parseDurationMs } from './parse-quantity.ts';

export const DEFAULT_NATS_STREAM = 'TRIPLINE_DETECTIONS';
const DEFAULT_MAX_AGE_MS = 30 * 86_400_000;
const DEFAULT_MAX_BYTES = 1024 ** 3;
const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** Where a value came from, for error messages ("--output nats", "tripline.yaml:12:7", "TRIPLINE_NATS_CREDS"). */
type Origin = (key: string) => string;

export interface NatsConfig {
  /** One server URL or several separated by commas: nats://host[:port] or tls://host[:port], no credentials. */
  readonly url: string;
  /** Where the URL came from. */
  readonly source: string;
  readonly stream: string;
  /** Absolute paths of the credential files (at most one way to authenticate). */
  readonly credsFile: string | undefined;
  readonly user: string | undefined;
  readonly passwordFile: string | undefined;
  readonly tokenFile: string | undefined;
  readonly tlsCa: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Limits of the stream when Tripline creates it. */
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly duplicateWindowMs: number;
  /** How long `run` waits at exit for the outbox to drain. */
  readonly drainTimeoutMs: number;
}

/** The `outputs.nats` section of tripline.yaml, as the schema lets it through. */
export interface RawNatsSection {
  readonly url?: string;
  readonly stream?: string;
  readonly creds_file?: string;
  readonly user?: string;
  readonly password_file?: string;
  readonly token_file?: string;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  readonly max_age?: string;
  readonly max_size?: string;
  readonly duplicate_window?: string;
  readonly drain_timeout?: string;
}

const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/;

/**
 * Checks a server list: each entry nats:// or tls://, a host, an optional port, nothing else.
 * Returns the list normalized (scheme://host:port, port 4222 when absent). The URL is never
 * echoed when it carries credentials.
 */
export function checkNatsUrl(text: string, where: string): string {
  const servers = text.split(',').map((s) => s.trim());
  if (servers.length > 32) throw new ConfigError(`${where}: more than 32 NATS servers`, [], where.startsWith('-'));
  return servers.map((server) => {
    const m = /^(nats|tls):\/\/([^/?#]*)$/i.exec(server);
    if (m === null) throw new ConfigError(`${where}: "${server.slice(0, 200)}" is not a NATS server URL; use nats://host:4222 or tls://host:4222 (several separated by commas)`, [], where.startsWith('-'));
    const authority = m[2] ?? '';
    if (authority.includes('@')) {
      throw new ConfigError(`${where}: the NATS URL carries credentials (user:password@ or token@), which ps and the shell history show; put them in a file: outputs.nats.creds_file, user with password_file, or token_file (TRIPLINE_NATS_CREDS, TRIPLINE_NATS_USER with TRIPLINE_NATS_PASSWORD_FILE, TRIPLINE_NATS_TOKEN_FILE)`, [], where.startsWith('-'));
    }
    const hp = /^(\[[^\]]*\]|[^:]*)(?::([0-9]{1,5}))?$/.exec(authority);
    const host = hp?.[1] ?? '';
    const port = hp?.[2] === undefined ? 4222 : Number(hp[2]);
    if (hp === null || !HOST.test(host) || host.length > 253 || port < 1 || port > 65535) {
      throw new ConfigError(`${where}: "${server.slice(0, 200)}" does not name a host and port (nats://host:4222)`, [], where.startsWith('-'));
    }
    return `${(m[1] ?? 'nats').toLowerCase()}://${host}:${String(port)}`;
  }).join(',');
}

/** A JetStream stream or consumer name: letters, digits, _ and -, 1 to 64. */
export function checkJetStreamName(text: string, what: string, where: string): string {
  if (!STREAM_NAME.test(text)) throw new ConfigError(`${where}: ${what} "${text.slice(0, 100)}" is not a JetStream name; use 1 to 64 letters, digits, _ or -`, [], where.startsWith('-'));
  return text;
}

/**
 * The NATS settings from a URL (the flag, TRIPLINE_NATS_URL or the file's outputs.nats.url),
 * the file's section (paths relative to the file's directory `base`), and TRIPLINE_NATS_*
 * variables for the stream and the credential files (relative to `cwd`), which win over the file.
 */
export function resolveNatsConfig(url: { readonly value: string; readonly source: string }, section: RawNatsSection | undefined,
  env: NodeJS.ProcessEnv, cwd: string, base: string, origin: Origin): NatsConfig {
  const fromEnv = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const file = (envName: string, value: string | undefined): string | undefined => {
    const e = fromEnv(envName);
    if (e !== undefined) return resolve(cwd, e);
    return value === undefined ? undefined : resolve(base, value);
  };
  const where = (envName: string, key: string): string => (fromEnv(envName) !== undefined ? envName : origin(key));
  const streamText = fromEnv('TRIPLINE_NATS_STREAM') ?? section?.stream ?? DEFAULT_NATS_STREAM;
  const stream = checkJetStreamName(streamText, 'stream', where('TRIPLINE_NATS_STREAM', 'stream'));
  const credsFile = file('TRIPLINE_NATS_CREDS', section?.creds_file);
  const user = fromEnv('TRIPLINE_NATS_USER') ?? section?.user;
  const passwordFile = file('TRIPLINE_NATS_PASSWORD_FILE', section?.password_file);
  const tokenFile = file('TRIPLINE_NATS_TOKEN_FILE', section?.token_file);
  const ways = [credsFile !== undefined, user !== undefined || passwordFile !== undefined, tokenFile !== undefined].filter(Boolean).length;
  if (ways > 1) throw new ConfigError(`${url.source}: NATS credentials are given more than one way (a creds file, a user and password file, a token file): give one`, [], url.source.startsWith('-'));
  if ((user === undefined) !== (passwordFile === undefined)) {
    throw new ConfigError(`${user === undefined ? where('TRIPLINE_NATS_PASSWORD_FILE', 'password_file') : where('TRIPLINE_NATS_USER', 'user')}: a NATS user needs a password file and a password file a user (outputs.nats.user and password_file, or TRIPLINE_NATS_USER and TRIPLINE_NATS_PASSWORD_FILE)`, [], false);
  }
  if (user !== undefined && (user.length > 256 || /[\s\0]/.test(user))) throw new ConfigError(`${where('TRIPLINE_NATS_USER', 'user')}: the NATS user name holds white space or is longer than 256 characters`, [], false);
  const tlsCa = file('TRIPLINE_NATS_TLS_CA', section?.tls?.ca);
  const tlsCert = file('TRIPLINE_NATS_TLS_CERT', section?.tls?.cert);
  const tlsKey = file('TRIPLINE_NATS_TLS_KEY', section?.tls?.key);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`${tlsCert === undefined ? where('TRIPLINE_NATS_TLS_KEY', 'tls.key') : where('TRIPLINE_NATS_TLS_CERT', 'tls.cert')}: a TLS client certificate needs its key, and a key its certificate`, [], false);
  }
  const quantity = (key: 'max_age' | 'max_size' | 'duplicate_window' | 'drain_timeout', parse: (t: string) => number | undefined, fallback: number, what: string): number => {
    const text = section?.[key];
    if (text === undefined) return fallback;
    const value = parse(text);
    if (value === undefined) throw new ConfigError(`${origin(key)}: outputs.nats.${key} "${text}" is not ${what}`);
    return value;
  };
  const duration = 'a duration (30s, 10m, 12h, 30d)';
  return {
    url: checkNatsUrl(url.value, url.source), source: url.source, stream,
    credsFile, user, passwordFile, tokenFile, tlsCa, tlsCert, tlsKey,
    maxAgeMs: quantity('max_age', parseDurationMs, DEFAULT_MAX_AGE_MS, duration),
    maxBytes: quantity('max_size', parseByteSize, DEFAULT_MAX_BYTES, 'a size (1GiB, 500MB)'),
    duplicateWindowMs: quantity('duplicate_window', parseDurationMs, DEFAULT_DUPLICATE_WINDOW_MS, duration),
    drainTimeoutMs: quantity('drain_timeout', parseDurationMs, DEFAULT_DRAIN_TIMEOUT_MS, duration),
  };
}
