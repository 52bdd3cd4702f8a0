import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../cli/main.ts';
import { ConfigError, loadTriplineConfig } from './tripline-config.ts';

function withConfig(text: string, run: (file: string, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-envlabel-'));
  try {
    const file = join(dir, 'tripline.yaml');
    writeFileSync(file, text, { mode: 0o644 });
    run(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('environment_label: from the file (with where), from TRIPLINE_ENVIRONMENT_LABEL before it, none by default', () => {
  withConfig('environment: production\nenvironment_label: tripline.io/environment\n', (file, dir) => {
    const c = loadTriplineConfig({ config: file }, {}, dir);
    assert.deepEqual(c.environmentLabel, { value: 'tripline.io/environment', source: `${file}:2:20` });
    assert.deepEqual(loadTriplineConfig({ config: file }, { TRIPLINE_ENVIRONMENT_LABEL: 'env' }, dir).environmentLabel, { value: 'env', source: 'TRIPLINE_ENVIRONMENT_LABEL' });
  });
  withConfig('environment: production\n', (file, dir) => {
    assert.deepEqual(loadTriplineConfig({ config: file }, {}, dir).environmentLabel, { value: undefined, source: 'default' });
  });
});

test('environment_label that is not a label key is an error naming the file and line, or the variable', () => {
  withConfig('environment_label: "Tripline.io/env ironment"\n', (file, dir) => {
    assert.throws(() => loadTriplineConfig({ config: file }, {}, dir), (e: unknown) => e instanceof ConfigError
      && e.diagnostics.some((d) => d.line === 1 && /environment_label/.test(`${d.message} ${d.hint ?? ''}`)));
  });
  withConfig('environment: ci\n', (file, dir) => {
    assert.throws(() => loadTriplineConfig({ config: file }, { TRIPLINE_ENVIRONMENT_LABEL: 'a/b/c' }, dir), /TRIPLINE_ENVIRONMENT_LABEL: "a\/b\/c" is not valid; use a Kubernetes label key/);
  });
});

test('config show names environment_label and where it came from (text, and JSON always)', async () => {
  const run = async (argv: string[], file: string, dir: string): Promise<string> => {
    let stdout = '';
    const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
    const code = await main(['config', 'show', '--config', file, ...argv], { stdout: sink((s) => (stdout += s)), stderr: sink(() => undefined), env: {}, cwd: dir });
    assert.equal(code, 0);
    return stdout;
  };
  const dir = mkdtempSync(join(tmpdir(), 'tripline-envlabel-'));
  try {
    const file = join(dir, 'tripline.yaml');
    writeFileSync(file, 'environment_label: tripline.io/environment\n', { mode: 0o644 });
    assert.match(await run([], file, dir), new RegExp(`^environment_label: tripline\\.io/environment +# ${file.replace(/[.]/g, '\\.')}:1:20$`, 'm'));
    assert.deepEqual((JSON.parse(await run(['--json'], file, dir)) as { environmentLabel: unknown }).environmentLabel, { value: 'tripline.io/environment', source: `${file}:1:20` });
    writeFileSync(file, 'environment: ci\n', { mode: 0o644 });
    assert.doesNotMatch(await run([], file, dir), /environment_label/);
    assert.deepEqual((JSON.parse(await run(['--json'], file, dir)) as { environmentLabel: unknown }).environmentLabel, { value: null, source: 'default' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
