import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { NatsConfig } from '../config/nats-config.ts';
import { connectionOptions, hostSubject, natsSinkName, NatsSetupError, SUBJECT_PREFIX } from './nats-connection.ts';

const dir = mkdtempSync(join(tmpdir(), 'tripline-nats-conn-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

function config(overrides: Partial<NatsConfig> = {}): NatsConfig {
  return {
    url: 'nats://hub:4222', source: '--output nats', stream: 'TRIPLINE_DETECTIONS',
    credsFile: undefined, user: undefined, passwordFile: undefined, tokenFile: undefined, tlsCa: undefined, tlsCert: undefined, tlsKey: undefined,
    maxAgeMs: 1, maxBytes: 1, duplicateWindowMs: 1, drainTimeoutMs: 1, ...overrides,
  };
}

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('hostSubject', () => {
  it('keeps a plain name and escapes dots, spaces and wildcards', () => {
    assert.equal(hostSubject('web-1'), `${SUBJECT_PREFIX}.web-1`);
    assert.equal(hostSubject('web-1.example.com'), `${SUBJECT_PREFIX}.web-1%2Eexample%2Ecom`);
    assert.equal(hostSubject('a b*>'), `${SUBJECT_PREFIX}.a%20b%2A%3E`);
    assert.equal(hostSubject(''), `${SUBJECT_PREFIX}.%00`);
  });

  it('makes one subject token of any name, distinct names giving distinct tokens', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (a, b) => {
      const sa = hostSubject(a);
      const token = sa.slice(SUBJECT_PREFIX.length + 1);
      assert.match(token, /^[A-Za-z0-9_%~-]+$/);
      assert.ok(token.length <= 128);
      if (a !== b) assert.notEqual(sa, hostSubject(b));
    }));
  });

  it('cuts a long name and keeps names apart by a hash', () => {
    const a = hostSubject('x'.repeat(300));
    const b = hostSubject(`${'x'.repeat(299)}y`);
    assert.ok(a.length <= SUBJECT_PREFIX.length + 1 + 128);
    assert.notEqual(a, b);
  });
});

describe('connectionOptions', () => {
  it('names the sink by server and stream, never by credentials', () => {
    assert.equal(natsSinkName(config()), 'nats nats://hub:4222/TRIPLINE_DETECTIONS');
  });

  it('reads a creds file, a password file or a token file, and TLS files', () => {
    const creds = file('ok.creds', '-----BEGIN NATS USER JWT-----\neyJ0\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAM\n------END USER NKEY SEED------\n');
    assert.equal(typeof connectionOptions(config({ credsFile: creds }), 'test', {}).authenticator, 'function');
    const password = file('pw', 'hunter2\n');
    const withPassword = connectionOptions(config({ user: 'alice', passwordFile: password }), 'test', {});
    assert.equal(typeof withPassword.authenticator, 'function');
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 0o644);
    const tls = connectionOptions(config({ tlsCa: ca }), 'test', {}).tls;
    assert.match(String(tls?.ca), /BEGIN CERTIFICATE/);
    assert.deepEqual(connectionOptions(config({ url: 'tls://hub:4222' }), 'test', {}).tls, {});
    assert.equal(connectionOptions(config(), 'test', {}).tls, undefined);
    assert.deepEqual(connectionOptions(config({ url: 'nats://a:1,tls://b:2' }), 'test', {}).servers, ['a:1', 'b:2']);
  });

  it('refuses a secret file others can read, a file of several lines, a file that is not a creds file, a missing file', () => {
    const open = file('open-token', 'abc\n', 0o644);
    assert.throws(() => connectionOptions(config({ tokenFile: open }), 'test', {}), (e: unknown) => e instanceof NatsSetupError && /readable by group or others .*chmod 600/.test(e.message));
    const two = file('two-lines', 'abc\ndef\n');
    assert.throws(() => connectionOptions(config({ tokenFile: two }), 'test', {}), /more than one line/);
    const notCreds = file('bad.creds', 'hello\n');
    assert.throws(() => connectionOptions(config({ credsFile: notCreds }), 'test', {}), /not a NATS \.creds file/);
    assert.throws(() => connectionOptions(config({ tokenFile: join(dir, 'absent') }), 'test', {}), NatsSetupError);
  });

  it('judges a secret file given through a symlink by the file it reaches: 0600 accepted, 0644 refused', () => {
    const privateTarget = file('linked-private-token', 'abc\n', 0o600);
    const privateLink = join(dir, 'private-token-link');
    symlinkSync(privateTarget, privateLink);
    assert.ok(connectionOptions(config({ tokenFile: privateLink }), 'test', {}).authenticator !== undefined);
    const openTarget = file('linked-open-token', 'abc\n', 0o644);
    const openLink = join(dir, 'open-token-link');
    symlinkSync(openTarget, openLink);
    assert.throws(() => connectionOptions(config({ tokenFile: openLink }), 'test', {}), (e: unknown) => e instanceof NatsSetupError && /readable by group or others \(mode 0644\)/.test(e.message));
  });

  it('as root, refuses a credential file reached through a link another user could have planted', { skip: process.geteuid?.() === 0 ? false : 'needs root' }, () => {
    const target = file('real-token', 'abc\n');
    const sub = mkdtempSync(join(dir, 'shared-'));
    chmodSync(sub, 0o777);
    const link = join(sub, 'token');
    symlinkSync(target, link);
    assert.throws(() => connectionOptions(config({ tokenFile: link }), 'test', {}), (e: unknown) => e instanceof NatsSetupError && /writable by/.test(e.message));
  });
});
