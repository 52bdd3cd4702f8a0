// Reloads read the configuration in a worker thread: the same result as loading it here, the
// main thread free meanwhile (counted in event-loop turns, not time), errors as outcomes, and
// one reload at a time.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadTriplineConfig } from '../config/tripline-config.ts';
import { ConfigReloader, loadConfigOffThread, type ReloadOutcome } from './config-reload.ts';

const BUILTIN = readFileSync(new URL('../../recipes/builtin/os_network_fingerprint.yaml', import.meta.url), 'utf8');

async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-reload-')));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A configuration using DIR/recipes, with one more recipe there: the built-in under another id, with `exceptions` more exceptions. */
function writeConfig(dir: string, exceptions: number): void {
  mkdirSync(join(dir, 'recipes'));
  const extra = Array.from({ length: exceptions }, (_, i) => `  - name: app ${String(i)}\n    reason: generated\n    exe: /opt/app${String(i)}/bin/server\n    uid: ${String(1000 + i)}\n`).join('');
  writeFileSync(join(dir, 'recipes', 'big.yaml'), BUILTIN.replace(/^id: os_network_fingerprint$/m, 'id: big_recipe').replace(/^exceptions:\n/m, `exceptions:\n${extra}`));
  writeFileSync(join(dir, 'tripline.yaml'), 'recipes:\n  directories: [recipes]\n');
}

describe('loadConfigOffThread', () => {
  test('loads exactly what loadTriplineConfig loads', () => inTemp(async (dir) => {
    writeConfig(dir, 3);
    const outcome = await loadConfigOffThread({}, {}, dir).result;
    assert.equal(outcome.kind, 'loaded');
    assert.deepEqual(outcome, { kind: 'loaded', config: loadTriplineConfig({}, {}, dir) });
  }));

  test('a large recipe (24,000 keys: 6,000 exceptions) is read while the main thread goes on turning', () => inTemp(async (dir) => {
    writeConfig(dir, 6_000);
    let turns = 0;
    let waiting = true;
    const spin = (): void => {
      turns++;
      if (waiting) setImmediate(spin);
    };
    setImmediate(spin);
    const outcome = await loadConfigOffThread({}, {}, dir).result;
    waiting = false;
    if (outcome.kind !== 'loaded') assert.fail(JSON.stringify(outcome));
    const big = outcome.config.recipes.find((r) => r.id === 'big_recipe');
    assert.ok(big !== undefined && big.exceptions.length >= 6_000);
    // Loaded here, synchronously, the main thread would not have turned once meanwhile.
    assert.ok(turns > 10, `the event loop turned ${String(turns)} time(s) during the load`);
  }));

  test('a configuration error comes back as an outcome, with its diagnostics', () => inTemp(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), 'environment: nowhere\n');
    const outcome = await loadConfigOffThread({}, {}, dir).result;
    assert.equal(outcome.kind, 'config-error');
    const thrown = (() => {
      try {
        loadTriplineConfig({}, {}, dir);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(thrown instanceof ConfigError);
    assert.deepEqual(outcome, { kind: 'config-error', message: thrown.message, diagnostics: thrown.diagnostics });
  }));

  test('cancel() ends a reload at once, as failed', () => inTemp(async (dir) => {
    writeConfig(dir, 6_000);
    const started = loadConfigOffThread({}, {}, dir);
    started.cancel();
    assert.deepEqual(await started.result, { kind: 'failed', message: 'cancelled' });
  }));
});

describe('ConfigReloader', () => {
  /** Loads that finish when the test says so. */
  function manualLoads(): { load: () => { result: Promise<ReloadOutcome>; cancel: () => void }; finish: (o: ReloadOutcome) => void; started: () => number } {
    const pending: ((o: ReloadOutcome) => void)[] = [];
    let count = 0;
    return {
      load: () => {
        count++;
        return { result: new Promise<ReloadOutcome>((resolve) => { pending.push(resolve); }), cancel: () => { pending.shift()?.({ kind: 'failed', message: 'cancelled' }); } };
      },
      finish: (o) => { pending.shift()?.(o); },
      started: () => count,
    };
  }
  const failed = (message: string): ReloadOutcome => ({ kind: 'failed', message });
  const settle = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

  test('SIGHUPs during a reload make one more reload after it, not one each', async () => {
    const loads = manualLoads();
    const applied: string[] = [];
    const reloader = new ConfigReloader(loads.load, (o) => { applied.push(o.kind === 'failed' ? o.message : o.kind); });
    reloader.request();
    reloader.request();
    reloader.request();
    assert.equal(loads.started(), 1);
    loads.finish(failed('first'));
    await settle();
    assert.deepEqual(applied, ['first']);
    assert.equal(loads.started(), 2, 'one more for the two that came during the first');
    loads.finish(failed('second'));
    await settle();
    assert.deepEqual(applied, ['first', 'second']);
    assert.equal(reloader.busy, false);
  });

  test('after cancel() nothing is applied and nothing more starts', async () => {
    const loads = manualLoads();
    const applied: ReloadOutcome[] = [];
    const reloader = new ConfigReloader(loads.load, (o) => { applied.push(o); });
    reloader.request();
    reloader.cancel();
    reloader.request();
    await settle();
    assert.deepEqual(applied, []);
    assert.equal(loads.started(), 1);
  });
});
