import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { ConfigError, loadTriplineConfig } from './tripline-config.ts';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/config/bad-tripline.yaml', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../test/golden/diagnostics/bad-tripline.txt', import.meta.url));

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-config-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void describe('configuration', () => {
  void test('golden diagnostics: every problem of a bad tripline.yaml at once', () => {
    const error = (() => {
      try {
        loadTriplineConfig({ config: FIXTURE }, {}, '/');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    const text = `${error.diagnostics.map(formatDiagnostic).join('\n').replaceAll(FIXTURE, 'bad-tripline.yaml')}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    assert.equal(text, readFileSync(GOLDEN, 'utf8'));
  });

  void test('flags override TRIPLINE_* variables, which override the file; each value says where it came from', () => { inTemp((dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), 'environment: staging\nfail_on: high\nsensor: ptrace\n');
    const c = loadTriplineConfig({ failOn: 'low' }, { TRIPLINE_SENSOR: 'ebpf' }, dir);
    assert.deepEqual(c.environment, { value: 'staging', source: `${join(dir, 'tripline.yaml')}:1:14` });
    assert.deepEqual(c.failOn, { value: 'low', source: '--fail-on' });
    assert.deepEqual(c.sensor, { value: 'ebpf', source: 'TRIPLINE_SENSOR' });
    assert.equal(c.jsonl.source, 'default');
  }); });

  void test('no file anywhere: defaults, and the built-ins run', () => { inTemp((dir) => {
    const c = loadTriplineConfig({}, {}, dir);
    assert.ok(c.file === undefined || c.file === '/etc/tripline/config.yaml');
    assert.ok(c.recipes.some((r) => r.id === 'os_network_fingerprint'));
  }); });

  void test('bad TRIPLINE_* values and unknown recipe ids are configuration errors naming the culprit', () => { inTemp((dir) => {
    assert.throws(() => loadTriplineConfig({}, { TRIPLINE_FAIL_ON: 'loud' }, dir), /TRIPLINE_FAIL_ON: "loud" is not valid/);
    assert.throws(() => loadTriplineConfig({}, { TRIPLINE_RECIPES_DISABLED: 'nope' }, dir), /recipes\.disabled: no recipe has the id "nope"/);
    assert.throws(() => loadTriplineConfig({ config: join(dir, 'missing.yaml') }, {}, dir), /--config: cannot read/);
  }); });

  void test('recipe directories are relative to the file; exceptions attach to their recipe; disabled recipes do not run', () => { inTemp((dir) => {
    mkdirSync(join(dir, 'conf', 'r'), { recursive: true });
    const good = fileURLToPath(new URL('../../test/fixtures/recipes/good-ssh-config-survey.yaml', import.meta.url));
    writeFileSync(join(dir, 'conf', 'r', 'ssh.yaml'), readFileSync(good));
    writeFileSync(join(dir, 'conf', 'tripline.yaml'), [
      'recipes:', '  directories: [r]', '  disabled: [os_network_fingerprint]',
      'exceptions:', '  - recipe: ssh_config_survey', '    name: ansible', '    reason: our playbooks', '    ancestor_exe: /usr/bin/ansible-playbook', '',
    ].join('\n'));
    const c = loadTriplineConfig({ config: 'conf/tripline.yaml' }, {}, dir);
    assert.deepEqual(c.recipes.map((r) => r.id), ['ssh_config_survey']);
    assert.deepEqual(c.recipes[0]?.exceptions.map((e) => e.name), ['sshd reading its own configuration', 'ssh-keygen -A at first boot', 'ansible']);
    assert.deepEqual(c.loadedRecipes.map((r) => r.id), ['os_network_fingerprint', 'ssh_config_survey']);
  }); });
});
