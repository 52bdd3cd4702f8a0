import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from './config-error.ts';
import { checkNatsUrl, resolveNatsConfig, type RawNatsSection } from './nats-config.ts';

const at = (key: string): string => `tripline.yaml:outputs.nats.${key}`;
const resolveWith = (section: RawNatsSection | undefined, env: NodeJS.ProcessEnv = {}, url = 'nats://hub:4222') =>
  resolveNatsConfig({ value: url, source: '--output nats' }, section, env, '/work', '/etc/tripline', at);

describe('NATS settings', () => {
  it('normalizes server URLs: scheme, host, port (4222 by default), several separated by commas', () => {
    assert.equal(checkNatsUrl('nats://hub', '--output nats'), 'nats://hub:4222');
    assert.equal(checkNatsUrl('NATS://hub.example.com:4333, tls://[::1]:7422', 'x'), 'nats://hub.example.com:4333,tls://[::1]:7422');
  });

  it('refuses URLs that are not nats:// or tls://, carry a path, or name no host', () => {
    for (const bad of ['http://hub:4222', 'hub:4222', 'nats://hub:4222/x', 'nats://:4222', 'nats://hub:99999', 'nats://hu b', 'nats://hub:4222?x=1']) {
      assert.throws(() => checkNatsUrl(bad, '--output nats'), (e: unknown) => e instanceof ConfigError && e.fromFlag && /--output nats/.test(e.message), bad);
    }
  });

  it('refuses credentials in the URL without echoing them', () => {
    for (const bad of ['nats://alice:s3cret@hub:4222', 'nats://t0ken@hub']) {
      assert.throws(() => checkNatsUrl(bad, '--output nats'), (e: unknown) => {
        const message = (e as Error).message;
        return /carries credentials/.test(message) && !message.includes('s3cret') && !message.includes('t0ken');
      });
    }
  });

  it('has defaults: the stream, its limits, the drain timeout', () => {
    const c = resolveWith(undefined);
    assert.equal(c.stream, 'TRIPLINE_DETECTIONS');
    assert.equal(c.maxAgeMs, 30 * 86_400_000);
    assert.equal(c.maxBytes, 1024 ** 3);
    assert.equal(c.duplicateWindowMs, 600_000);
    assert.equal(c.drainTimeoutMs, 10_000);
    assert.equal(c.credsFile, undefined);
  });

  it('reads the file section (paths relative to the file) and lets TRIPLINE_NATS_* win (relative to the working directory)', () => {
    const c = resolveWith({ stream: 'FLEET', creds_file: 'nats.creds', tls: { ca: '/pki/ca.pem' }, max_age: '7d', max_size: '2GiB', duplicate_window: '2m', drain_timeout: '30s' });
    assert.equal(c.stream, 'FLEET');
    assert.equal(c.credsFile, '/etc/tripline/nats.creds');
    assert.equal(c.tlsCa, '/pki/ca.pem');
    assert.equal(c.maxAgeMs, 7 * 86_400_000);
    assert.equal(c.maxBytes, 2 * 1024 ** 3);
    assert.equal(c.duplicateWindowMs, 120_000);
    assert.equal(c.drainTimeoutMs, 30_000);
    const e = resolveWith({ stream: 'FLEET', creds_file: 'nats.creds' }, { TRIPLINE_NATS_STREAM: 'OTHER', TRIPLINE_NATS_CREDS: 'my.creds' });
    assert.equal(e.stream, 'OTHER');
    assert.equal(e.credsFile, '/work/my.creds');
  });

  it('takes one way to authenticate, a user with a password file, a certificate with its key', () => {
    assert.throws(() => resolveWith({ creds_file: 'a', token_file: 'b' }), /more than one way/);
    assert.throws(() => resolveWith({ user: 'alice' }), /needs a password file/);
    assert.throws(() => resolveWith({ password_file: 'p' }), /needs a password file/);
    assert.throws(() => resolveWith({ tls: { cert: 'c.pem' } }), /needs its key/);
    assert.throws(() => resolveWith({ user: 'al ice', password_file: 'p' }), /white space/);
    const ok = resolveWith({ user: 'alice', password_file: 'pw' });
    assert.equal(ok.user, 'alice');
    assert.equal(ok.passwordFile, '/etc/tripline/pw');
  });

  it('names the place of a bad stream name or quantity', () => {
    assert.throws(() => resolveWith({ stream: 'a.b' }), /tripline\.yaml:outputs\.nats\.stream: stream "a\.b" is not a JetStream name/);
    assert.throws(() => resolveWith(undefined, { TRIPLINE_NATS_STREAM: 'x>' }), /TRIPLINE_NATS_STREAM: stream/);
    assert.throws(() => resolveWith({ max_age: 'forever' }), /outputs\.nats\.max_age "forever" is not a duration/);
  });
});
