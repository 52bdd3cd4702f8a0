import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseServeOptions } from './serve-command.ts';
import { loadServeConfig } from './serve-fleet.ts';
import { UsageError } from './usage-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'tripline-serve-fleet-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });
const io = { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: dir };

describe('serve --from', () => {
  it('parses --from and --consumer; a consumer needs --from and a JetStream name', () => {
    const o = parseServeOptions(['--from', 'nats://hub:4222', '--consumer', 'central-1']);
    assert.ok(o !== 'help');
    assert.equal(o.from, 'nats://hub:4222');
    assert.equal(o.consumer, 'central-1');
    assert.throws(() => parseServeOptions(['--consumer', 'x']), (e: unknown) => e instanceof UsageError && /give --from/.test(e.message));
    assert.throws(() => parseServeOptions(['--from', 'nats://hub', '--consumer', 'a.b']), /not a JetStream name/);
  });

  it('takes the NATS settings for --from from the configuration and TRIPLINE_NATS_*, and names --from in a bad URL', () => {
    const loaded = loadServeConfig({ config: undefined, store: undefined, from: 'nats://hub' }, { ...io, env: { TRIPLINE_NATS_STREAM: 'FLEET' } });
    assert.equal(loaded.outputs.nats?.url, 'nats://hub:4222');
    assert.equal(loaded.outputs.nats.stream, 'FLEET');
    assert.throws(() => loadServeConfig({ config: undefined, store: undefined, from: 'nats://bob:pw@hub' }, io),
      (e: unknown) => e instanceof UsageError && e.message.startsWith('serve: --from: the NATS URL carries credentials') && !e.message.includes('pw@'));
    assert.throws(() => loadServeConfig({ config: undefined, store: undefined, from: 'http://hub' }, io), /^UsageError: serve: --from: "http:\/\/hub" is not a NATS server URL/);
    assert.equal(loadServeConfig({ config: undefined, store: undefined }, io).outputs.nats, undefined);
  });
});
