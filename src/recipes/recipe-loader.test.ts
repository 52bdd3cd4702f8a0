import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { BUILTIN_RECIPES } from './builtin-recipes.ts';
import { formatDuration, loadRecipeFiles, parseDuration, parseRecipe } from './recipe-loader.ts';
import { recipeToYaml } from './recipe-writer.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/recipes/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../test/golden/diagnostics/', import.meta.url));

void describe('recipe loader', () => {
  void test('the built-in os_network_fingerprint loads from YAML with the measured defaults', () => {
    const r = BUILTIN_RECIPES.find((x) => x.id === 'os_network_fingerprint');
    assert.ok(r);
    assert.equal(r.source, 'builtin:os_network_fingerprint.yaml');
    assert.deepEqual(r.match.roots, ['/proc/sys/net']);
    assert.equal(r.aggregate.threshold, 3);
    assert.deepEqual(r.aggregate.scopes, [{ scope: 'process', windowMs: 60_000 }, { scope: 'process-tree', windowMs: 10_000 }]);
    assert.deepEqual(r.match.probeErrors, ['ENOENT', 'ENOTDIR', 'EINVAL', 'ELOOP', 'ENAMETOOLONG']);
    assert.equal(r.match.countRoot, false);
    assert.equal(r.importance, 'low');
    assert.deepEqual([r.tactic.id, r.technique.id], ['TA0007', 'T1082']);
    for (const kind of ['ci', 'staging', 'production', 'development', 'unknown'] as const) assert.equal(r.guidance[kind].actions.length, 3);
  });

  // Every bad fixture's diagnostics, exactly (UPDATE_GOLDEN=1 rewrites them).
  for (const name of readdirSync(FIXTURES).filter((f) => f.startsWith('bad-')).sort()) {
    void test(`golden diagnostics: ${name}`, () => {
      const { recipe, diagnostics } = parseRecipe(readFileSync(join(FIXTURES, name), 'utf8'), `test/fixtures/recipes/${name}`);
      assert.equal(recipe, undefined);
      const text = `${diagnostics.map(formatDiagnostic).join('\n')}\n`;
      const golden = join(GOLDEN, name.replace(/\.ya?ml$/, '.txt'));
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, text);
      assert.equal(text, readFileSync(golden, 'utf8'));
    });
  }

  void test('a complete valid recipe converts every section', () => {
    const { recipe, diagnostics } = parseRecipe(readFileSync(join(FIXTURES, 'good-ssh-config-survey.yaml'), 'utf8'), 'good.yaml');
    assert.deepEqual(diagnostics, []);
    assert.ok(recipe);
    assert.equal(recipe.aggregate.count, 'files');
    assert.deepEqual(recipe.match.include.map((p) => p.kind), ['glob', 'glob', 'regex']);
    assert.equal(recipe.match.failedProbes, 'ignore');
    assert.equal(recipe.exceptions[0]?.origin, 'good.yaml:35');
    assert.deepEqual(recipe.exceptions[1]?.uid, [0]);
    assert.equal(recipe.limits.perExe, 5);
    assert.deepEqual(recipe.aggregate.scopes, [{ scope: 'process', windowMs: 30_000 }, { scope: 'process-tree', windowMs: 5_000 }]);
  });

  void test('show output is a recipe file that loads back to the same recipe', () => {
    for (const r of BUILTIN_RECIPES) {
      const back = parseRecipe(recipeToYaml(r), 'shown.yaml', r.source);
      assert.deepEqual(back.diagnostics, []);
      assert.deepEqual({ ...back.recipe, exceptions: [] }, { ...r, exceptions: [] });
    }
  });

  void test('a duplicate id is reported at the id, and the first definition wins', () => {
    const file = join(FIXTURES, 'good-ssh-config-survey.yaml');
    const r = loadRecipeFiles([file, file], BUILTIN_RECIPES);
    assert.equal(r.recipes.length, 1);
    assert.equal(r.diagnostics.length, 1);
    assert.match(formatDiagnostic(r.diagnostics[0] ?? assert.fail()), /:3:5: error\[duplicate-id\]: recipe id "ssh_config_survey" is already defined by .*good-ssh-config-survey\.yaml/);
  });

  void test('an unreadable file is a diagnostic, not a crash', () => {
    const r = loadRecipeFiles(['/nonexistent/recipe.yaml']);
    assert.equal(r.diagnostics[0]?.code, 'unreadable');
  });

  void test('exceptions on an executable path also match its physical path (/sbin is /usr/sbin on a merged /usr)', () => {
    const text = readFileSync(join(FIXTURES, 'good-ssh-config-survey.yaml'), 'utf8').replace('exe: /usr/bin/ssh-keygen', 'exe: /bin/ssh-keygen');
    const { recipe } = parseRecipe(text, 'g.yaml');
    const exe = recipe?.exceptions[1]?.exe ?? [];
    assert.ok(exe.includes('/bin/ssh-keygen'));
  });

  void test('durations: parse and format round-trip (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
    assert.equal(parseDuration('1.5s'), 1500);
    assert.ok(Number.isNaN(parseDuration('1 minute')));
  });

  void test('any YAML text gives diagnostics or a recipe, never a throw (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
      const r = parseRecipe(text, 'x.yaml');
      return r.recipe !== undefined || r.diagnostics.length > 0;
    }), { numRuns: 300 });
  });
});
