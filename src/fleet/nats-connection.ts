// The fleet transport on NATS JetStream (docs/fleet.md): what the publishing output
// (nats-output.ts) and the collector of `serve --from` (nats-collector.ts) share: the
// connection (credential and TLS files read with the root trust rule), the stream, the subject
// of a host and the sink name of a server in the store's outbox.

import { createHash } from 'node:crypto';
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { credsAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator, type Authenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConfig } from '../config/nats-config.ts';
import { documentTrust, readDocumentFile } from '../documents/document-file.ts';
import { visible } from '../model/visible.ts';

/** Every subject Tripline publishes to is under this prefix; the stream captures `tripline.detections.>`. */
export const SUBJECT_PREFIX = 'tripline.detections';
const MAX_HOST_TOKEN = 128;

/** A credential or TLS file that cannot be used; the message names the file and why. */
export class NatsSetupError extends Error {
  override readonly name = 'NatsSetupError';
}

/**
 * The subject of a host's detections: `tripline.detections.<host>`, the host name as one
 * subject token. Letters, digits, `-` and `_` stay; every other byte (the dots of a domain
 * name, white space, the wildcards `*` and `>`) becomes `%XX`, so two names never share a
 * token and a name cannot add a token or a wildcard. A long name is cut and given a hash.
 */
export function hostSubject(hostname: string): string {
  let token = '';
  for (const byte of Buffer.from(hostname, 'utf8')) {
    const c = String.fromCharCode(byte);
    token += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (token === '') token = '%00';
  if (token.length > MAX_HOST_TOKEN) token = `${token.slice(0, MAX_HOST_TOKEN - 17)}~${createHash('sha256').update(hostname).digest('hex').slice(0, 16)}`;
  return `${SUBJECT_PREFIX}.${token}`;
}

/** The outbox sink of a server list and stream: the URL as configured (it never carries credentials) and the stream. */
export function natsSinkName(config: Pick<NatsConfig, 'url' | 'stream'>): string {
  return `nats ${config.url}/${config.stream}`;
}

/** A file Tripline obeys: under root, only one nobody else could have written; a secret must also be private to its owner. */
function readTrustedFile(path: string, what: string, secret: boolean, env: NodeJS.ProcessEnv): string {
  const read = readDocumentFile(path, documentTrust(env));
  if ('error' in read) throw new NatsSetupError(`NATS ${what} ${visible(path)}: ${read.error}${read.hint === undefined ? '' : ` (${read.hint})`}`);
  if (secret) {
    // The mode of what was read (fstat of the opened file): a link's own mode (0777) says nothing, and a file given through one (a Kubernetes secret mount, certbot's live/*/privkey.pem) is judged by its target.
    const mode = read.mode;
    if ((mode & 0o044) !== 0) throw new NatsSetupError(`NATS ${what} ${visible(path)}: readable by group or others (mode 0${(mode & 0o777).toString(8)}): anyone who reads it can publish or read detections as this client; chmod 600 it`);
  }
  return read.text;
}

/** The first line of a password or token file, which must be the only one. */
function firstLine(text: string, path: string, what: string): string {
  const line = text.replace(/\r?\n$/, '');
  if (line.includes('\n')) throw new NatsSetupError(`NATS ${what} ${visible(path)}: holds more than one line; put the ${what} alone on the first line`);
  if (line === '') throw new NatsSetupError(`NATS ${what} ${visible(path)}: is empty`);
  return line;
}

/** The client's connection options: the servers, a reconnect forever, credentials and TLS from their files. */
export function connectionOptions(config: NatsConfig, clientName: string, env: NodeJS.ProcessEnv): NodeConnectionOptions {
  let authenticator: Authenticator | undefined;
  if (config.credsFile !== undefined) {
    const creds = readTrustedFile(config.credsFile, 'credentials file', true, env);
    if (!/-----BEGIN NATS USER JWT-----/.test(creds) || !/-----BEGIN USER NKEY SEED-----/.test(creds)) {
      throw new NatsSetupError(`NATS credentials file ${visible(config.credsFile)}: not a NATS .creds file (a USER JWT and a USER NKEY SEED block)`);
    }
    authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  } else if (config.user !== undefined && config.passwordFile !== undefined) {
    const password = firstLine(readTrustedFile(config.passwordFile, 'password file', true, env), config.passwordFile, 'password');
    authenticator = usernamePasswordAuthenticator(config.user, password);
  } else if (config.tokenFile !== undefined) {
    authenticator = tokenAuthenticator(firstLine(readTrustedFile(config.tokenFile, 'token file', true, env), config.tokenFile, 'token'));
  }
  const tlsWanted = config.tlsCa !== undefined || config.tlsCert !== undefined || config.url.split(',').some((s) => s.startsWith('tls://'));
  const tls = tlsWanted ? {
    ...(config.tlsCa === undefined ? {} : { ca: readTrustedFile(config.tlsCa, 'TLS CA file', false, env) }),
    ...(config.tlsCert === undefined ? {} : { cert: readTrustedFile(config.tlsCert, 'TLS certificate file', false, env) }),
    ...(config.tlsKey === undefined ? {} : { key: readTrustedFile(config.tlsKey, 'TLS key file', true, env) }),
  } : undefined;
  return {
    // The client wants host:port (tls:// is said by the tls option).
    servers: config.url.split(',').map((s) => s.replace(/^(nats|tls):\/\//, '')),
    name: clientName,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    // A first connection that fails is retried by the caller (which can give up: `run` ends).
    timeout: 5_000,
    pingInterval: 10_000,
    maxPingOut: 3,
    ...(authenticator === undefined ? {} : { authenticator }),
    ...(tls === undefined ? {} : { tls }),
  };
}

/**
 * The stream exists afterwards: created when absent, with the configured limits (age, bytes,
 * duplicate window), file storage, the oldest messages discarded at a limit. An existing
 * stream is used as it is (its administrator's limits win). Returns its manager; `created` is
 * called when this call made it.
 */
export async function ensureStream(nc: NatsConnection, config: NatsConfig, created?: () => void): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(config.stream);
    return jsm;
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
  }
  try {
    await jsm.streams.add({
      name: config.stream,
      subjects: [`${SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: config.maxAgeMs * 1_000_000,
      max_bytes: config.maxBytes,
      duplicate_window: config.duplicateWindowMs * 1_000_000,
    });
    created?.();
  } catch (error) {
    // Another publisher made it meanwhile.
    if (!/already in use|already exists/i.test((error as Error).message)) throw error;
  }
  return jsm;
}

/** A publish or API error saying the stream is not there: no JetStream responder for the subject (nats.js says "jetstream is not enabled"), or stream not found. */
export function isStreamMissing(error: unknown): boolean {
  return isStreamNotFound(error) || (error as { name?: unknown }).name === 'JetStreamNotEnabled';
}

function isStreamNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  return e.code === 10059 || e.name === 'StreamNotFoundError' || (typeof e.message === 'string' && /stream not found/i.test(e.message));
}

/** An error's message, escaped for a terminal, without a stack. */
export function natsErrorText(error: unknown): string {
  return visible(error instanceof Error ? error.message : String(error));
}
