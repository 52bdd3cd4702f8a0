// The generated validators are the build of the schemas as they are now, and judge documents
// exactly as ajv's compiler does: the same errors for every good and bad fixture.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { compileValidator, PRECOMPILED, validatorSource } from './validator-source.ts';
import { validate as configV1 } from './validators/config-v1.ts';
import { validate as recipeV1 } from './validators/recipe-v1.ts';

const GENERATED: Readonly<Record<string, ValidateFunction>> = {
  'recipe-v1': recipeV1 as unknown as ValidateFunction,
  'config-v1': configV1 as unknown as ValidateFunction,
};

test('each committed validator is the build of its schema (else: npm run build:validators)', () => {
  for (const name of Object.keys(PRECOMPILED)) {
    const committed = readFileSync(new URL(`./validators/${name}.ts`, import.meta.url), 'utf8');
    assert.equal(committed, validatorSource(name), `src/documents/validators/${name}.ts is out of date with schema/${name}.schema.json: run npm run build:validators`);
  }
});

function schema(name: string): object {
  return JSON.parse(readFileSync(new URL(`../../schema/${name}.schema.json`, import.meta.url), 'utf8')) as object;
}

function documents(dir: string): unknown[] {
  const url = new URL(`../../${dir}/`, import.meta.url);
  return readdirSync(url).filter((f) => f.endsWith('.yaml')).flatMap((f) => {
    try {
      return [parse(readFileSync(new URL(f, url), 'utf8')) as unknown];
    } catch {
      return []; // YAML syntax errors never reach the schema
    }
  });
}

test('generated and compiled validators give the same verdict and the same errors', () => {
  const compiled = {
    'recipe-v1': compileValidator(schema('recipe-v1')).validate,
    'config-v1': compileValidator(schema('config-v1'), [schema('recipe-v1')]).validate,
  };
  const cases: [keyof typeof compiled, unknown][] = [
    ...[...documents('recipes/builtin'), ...documents('test/fixtures/recipes')].map((d): [keyof typeof compiled, unknown] => ['recipe-v1', d]),
    ...documents('test/fixtures/config').map((d): [keyof typeof compiled, unknown] => ['config-v1', d]),
    ['recipe-v1', { id: 7, nmae: 'x' }], ['config-v1', { recipes: { directories: 'x' }, exceptions: [{ exe: 3 }] }], ['config-v1', {}],
  ];
  let invalid = 0;
  for (const [name, doc] of cases) {
    const generated = GENERATED[name];
    assert.ok(generated !== undefined);
    const expected = compiled[name](doc);
    assert.equal(generated(doc), expected, `${name}: ${JSON.stringify(doc).slice(0, 80)}`);
    if (!expected) invalid++;
    // The errors are compared as the diagnostics read them (schema objects by content).
    assert.deepEqual(JSON.parse(JSON.stringify(generated.errors ?? null)), JSON.parse(JSON.stringify(compiled[name].errors ?? null)), name);
  }
  assert.ok(invalid >= 4, `the cases include invalid documents (${String(invalid)})`);
});
