import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { ConfigError, loadTriplineConfig } from './tripline-config.ts';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/config/bad-tripline.yaml', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../test/golden/diagnostics/bad-tripline.txt', import.meta.url));
const NOBODY = 65534;
const notRoot = process.getuid?.() === 0 ? false : 'needs root: the rule applies to root, and the fixtures belong to another user (chown)';
const EXCEPT_EVERYTHING = 'exceptions:\n  - name: planted\n    reason: silence everything\n    exe: "/**"\n';

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-config-')));
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

  void test('jsonl_final_only: the command decides by default; the file, TRIPLINE_JSONL_FINAL_ONLY and --jsonl-final-only override in that order', () => { inTemp((dir) => {
    assert.deepEqual(loadTriplineConfig({}, {}, dir).outputs.jsonlFinalOnly, { value: undefined, source: 'default' });
    writeFileSync(join(dir, 'tripline.yaml'), 'outputs:\n  jsonl_final_only: false\n');
    assert.deepEqual(loadTriplineConfig({}, {}, dir).outputs.jsonlFinalOnly, { value: false, source: `${join(dir, 'tripline.yaml')}:2:21` });
    assert.deepEqual(loadTriplineConfig({}, { TRIPLINE_JSONL_FINAL_ONLY: 'true' }, dir).outputs.jsonlFinalOnly, { value: true, source: 'TRIPLINE_JSONL_FINAL_ONLY' });
    assert.deepEqual(loadTriplineConfig({ jsonlFinalOnly: true }, { TRIPLINE_JSONL_FINAL_ONLY: '0' }, dir).outputs.jsonlFinalOnly, { value: true, source: '--jsonl-final-only' });
    assert.throws(() => loadTriplineConfig({}, { TRIPLINE_JSONL_FINAL_ONLY: 'yes' }, dir), /TRIPLINE_JSONL_FINAL_ONLY: "yes" is not valid; use 1, true, 0 or false/);
    writeFileSync(join(dir, 'tripline.yaml'), 'outputs:\n  jsonl_final_only: "no"\n');
    assert.throws(() => loadTriplineConfig({}, {}, dir), ConfigError);
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

  void test('as root, a tripline.yaml another user planted in a shared working directory is refused, not obeyed', { skip: notRoot }, () => { inTemp((dir) => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const file = join(shared, 'tripline.yaml');
    writeFileSync(file, EXCEPT_EVERYTHING);
    chownSync(file, NOBODY, NOBODY);
    assert.throws(() => loadTriplineConfig({}, {}, shared), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.fromFlag, false, 'a configuration error (78), not a usage one');
      assert.match(error.message, new RegExp(`^\\./tripline\\.yaml: refusing to use ${file}: ${file} belongs to uid 65534, not to root`));
      assert.match(error.message, new RegExp(`fix: chown root ${file} && chmod go-w ${file}`));
      return true;
    });
    // The same file given by --config or TRIPLINE_CONFIG: refused the same way.
    assert.throws(() => loadTriplineConfig({ config: file }, {}, dir), /--config: refusing to use/);
    assert.throws(() => loadTriplineConfig({}, { TRIPLINE_CONFIG: file }, dir), /TRIPLINE_CONFIG: refusing to use/);
    // Once root owns it and only root can write it, it is obeyed.
    chownSync(file, 0, 0);
    assert.equal(loadTriplineConfig({}, {}, shared).exceptions[0]?.exception.name, 'planted');
    // The user who ran sudo may use their own file.
    chownSync(file, NOBODY, NOBODY);
    assert.equal(loadTriplineConfig({}, { SUDO_UID: String(NOBODY) }, shared).file, file);
  }); });

  void test('as root, a recipe file another user could have written is skipped with unsafe-permissions', { skip: notRoot }, () => { inTemp((dir) => {
    const recipes = join(dir, 'r');
    mkdirSync(recipes);
    const good = fileURLToPath(new URL('../../test/fixtures/recipes/good-ssh-config-survey.yaml', import.meta.url));
    writeFileSync(join(recipes, 'ssh.yaml'), readFileSync(good));
    chownSync(join(recipes, 'ssh.yaml'), NOBODY, NOBODY);
    const c = loadTriplineConfig({}, { TRIPLINE_RECIPE_DIRS: recipes }, dir);
    assert.deepEqual(c.loadedRecipes.map((r) => r.id), ['os_network_fingerprint']);
    const d = c.recipeDiagnostics.find((x) => x.code === 'unsafe-permissions');
    assert.ok(d !== undefined, JSON.stringify(c.recipeDiagnostics));
    assert.equal(d.severity, 'error');
    assert.equal(d.file, join(recipes, 'ssh.yaml'));
    assert.match(d.message, /not loaded: .*ssh\.yaml belongs to uid 65534/);
    assert.match(d.hint ?? '', /chown root .*ssh\.yaml && chmod go-w/);
    // Root's file, but in a directory anyone can write: skipped too.
    chownSync(join(recipes, 'ssh.yaml'), 0, 0);
    chmodSync(recipes, 0o777);
    assert.match(loadTriplineConfig({}, { TRIPLINE_RECIPE_DIRS: recipes }, dir).recipeDiagnostics.find((x) => x.code === 'unsafe-permissions')?.message ?? '', /writable by group and others/);
    chmodSync(recipes, 0o755);
    assert.deepEqual(loadTriplineConfig({}, { TRIPLINE_RECIPE_DIRS: recipes }, dir).loadedRecipes.map((r) => r.id), ['os_network_fingerprint', 'ssh_config_survey']);
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
