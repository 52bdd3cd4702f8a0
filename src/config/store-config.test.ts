// The store's settings: --store, --no-store, TRIPLINE_STORE (a path or "off") and the
// configuration file's store section, each with where it came from; sizes and ages as written.

import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseByteSize, parseDurationMs } from './parse-quantity.ts';
import { ConfigError, loadTriplineConfig } from './tripline-config.ts';

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-store-config-')));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('store settings', () => {
  test('default: no path (the command picks the default location), no cap, no retention', () => {
    inTemp((dir) => {
      const s = loadTriplineConfig({}, {}, dir).store;
      assert.deepEqual(s.path, { value: undefined, source: 'default' });
      assert.equal(s.maxBytes.value, undefined);
      assert.equal(s.retentionMs.value, undefined);
    });
  });

  test('the file\'s store section, its path relative to the file; TRIPLINE_STORE and the flags override it in that order', () => {
    inTemp((dir) => {
      const config = join(dir, 'tripline.yaml');
      writeFileSync(config, 'store:\n  path: state/t.db\n  max_size: 512MiB\n  retention: 30d\n');
      const fromFile = loadTriplineConfig({ config }, {}, '/');
      assert.deepEqual(fromFile.store.path, { value: join(dir, 'state/t.db'), source: `${config}:2:9` });
      assert.deepEqual(fromFile.store.maxBytes, { value: 512 * 1024 ** 2, source: `${config}:3:13` });
      assert.equal(fromFile.store.retentionMs.value, 30 * 86_400_000);
      assert.deepEqual(loadTriplineConfig({ config }, { TRIPLINE_STORE: 'env.db' }, dir).store.path, { value: join(dir, 'env.db'), source: 'TRIPLINE_STORE' });
      assert.deepEqual(loadTriplineConfig({ config }, { TRIPLINE_STORE: 'off' }, dir).store.path, { value: null, source: 'TRIPLINE_STORE' });
      assert.deepEqual(loadTriplineConfig({ config, store: 'flag.db' }, { TRIPLINE_STORE: 'off' }, dir).store.path, { value: join(dir, 'flag.db'), source: '--store' });
      assert.deepEqual(loadTriplineConfig({ config, noStore: true }, { TRIPLINE_STORE: 'env.db' }, dir).store.path, { value: null, source: '--no-store' });
      assert.throws(() => loadTriplineConfig({ config, noStore: true, store: 'x.db' }, {}, dir), /--store and --no-store contradict each other/);
    });
  });

  test('store.enabled: false turns it off; a bad size or age is a configuration error at its place', () => {
    inTemp((dir) => {
      const config = join(dir, 'tripline.yaml');
      writeFileSync(config, 'store:\n  enabled: false\n');
      assert.equal(loadTriplineConfig({ config }, {}, dir).store.path.value, null);
      writeFileSync(config, 'store:\n  max_size: 12kiB\n');
      assert.throws(() => loadTriplineConfig({ config }, {}, dir), (e: ConfigError) => {
        assert.match(e.message, /tripline\.yaml:2:13: store\.max_size "12kiB" is not a size/);
        return true;
      });
      writeFileSync(config, 'store:\n  retention: 30 days\n');
      assert.throws(() => loadTriplineConfig({ config }, {}, dir), ConfigError, 'the schema refuses it');
    });
  });
});

describe('sizes and ages', () => {
  test('sizes: bytes, decimal and binary units', () => {
    assert.equal(parseByteSize('1048576'), 1048576);
    assert.equal(parseByteSize('2GB'), 2e9);
    assert.equal(parseByteSize('1.5 G'), 1.5e9);
    assert.equal(parseByteSize('512MiB'), 512 * 1024 * 1024);
    assert.equal(parseByteSize('1KiB'), 1024);
    for (const bad of ['', '0', 'MB', '12 parsecs', '-5', '1e9', '99999999999999999999']) assert.equal(parseByteSize(bad), undefined, bad);
  });

  test('ages: seconds to weeks', () => {
    assert.equal(parseDurationMs('90s'), 90_000);
    assert.equal(parseDurationMs('30d'), 30 * 86_400_000);
    assert.equal(parseDurationMs('2w'), 14 * 86_400_000);
    for (const bad of ['', '0d', '30', 'd', '1y', '1.5h', '-2h']) assert.equal(parseDurationMs(bad), undefined, bad);
  });
});
