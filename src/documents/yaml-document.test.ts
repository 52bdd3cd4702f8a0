// Parsing with positions: duplicate keys found (by our own linear check), a bound on the size
// of a document with a clear message, and a large valid recipe still loading.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recipeWithExceptions } from '../../bench/recipe-loading.ts';
import { parseRecipe } from '../recipes/recipe-loader.ts';
import { MAX_DOCUMENT_NODES, parseYamlDocument } from './yaml-document.ts';

test('a repeated key is an error at the repeat, as the YAML library reports it', () => {
  const doc = parseYamlDocument('a: 1\nb:\n  c: 2\n  d: 3\n  c: 4\n1: x\n"1": y\ntrue: z\ntrue: w\n', 'f.yaml');
  assert.equal(doc.value, undefined);
  assert.deepEqual(doc.diagnostics.map((d) => [d.code, d.line, d.column, d.message]), [
    ['duplicate-key', 5, 3, 'Map keys must be unique'],
    ['duplicate-key', 9, 1, 'Map keys must be unique'],
  ]);
});

test('positions are found through the index, for keys and values, first occurrence of a key', () => {
  const doc = parseYamlDocument('top:\n  - name: x\n    other: [1, 2]\nlast: 5\n', 'f.yaml');
  assert.deepEqual(doc.position(['top', 0, 'other', 1]), { line: 3, column: 16 });
  assert.deepEqual(doc.position(['top', 0, 'other'], 'key'), { line: 3, column: 5 });
  assert.deepEqual(doc.position(['last']), { line: 4, column: 7 });
  assert.deepEqual(doc.position(['missing', 'deeper']), { line: 1, column: 1 }, 'the nearest existing parent');
});

test(`a document with more than ${String(MAX_DOCUMENT_NODES)} keys and items is refused with one clear diagnostic`, () => {
  const text = Array.from({ length: MAX_DOCUMENT_NODES + 1 }, (_, i) => `k${String(i)}: ${String(i)}\n`).join('');
  const doc = parseYamlDocument(text, 'huge.yaml');
  assert.equal(doc.value, undefined);
  assert.deepEqual(doc.diagnostics, [{
    severity: 'error', code: 'too-large', file: 'huge.yaml', line: 1, column: 1,
    message: `the document has ${String(MAX_DOCUMENT_NODES + 1)} keys and list items; at most ${String(MAX_DOCUMENT_NODES)} are read`,
    hint: 'a recipe has about a hundred and a configuration rarely a few thousand: split it, or check that this is the file meant',
  }]);
  const r = parseRecipe(text, 'huge.yaml');
  assert.equal(r.recipe, undefined);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['too-large'], 'nothing else is looked at');
});

test('a large valid recipe (24,000 keys: 6,000 exceptions) loads', () => {
  const r = parseRecipe(recipeWithExceptions(24_000), 'big.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(r.recipe !== undefined && r.recipe.exceptions.length >= 6_000);
});

test('a recipe with 24,000 unknown keys: the first 100 are listed and the rest counted', () => {
  const base = recipeWithExceptions(0);
  const text = `${base}${Array.from({ length: 24_000 }, (_, i) => `extra_key_${String(i)}: 1\n`).join('')}`;
  const r = parseRecipe(text, 'bad.yaml');
  assert.equal(r.recipe, undefined);
  const unknown = r.diagnostics.filter((d) => d.code === 'unknown-key');
  assert.equal(unknown.length, 100);
  const more = r.diagnostics.find((d) => d.code === 'too-many-problems');
  assert.equal(more?.message, '23900 more problem(s) from here on are not listed');
  assert.equal(more.line, base.split('\n').length + 100);
});
