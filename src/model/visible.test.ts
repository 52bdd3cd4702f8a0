import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { visible, visibleJson } from './visible.ts';
import { formatDiagnostic } from './diagnostic.ts';

/** What a terminal or a log viewer could obey, or what could reorder or split what is shown. */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('controls, bidi overrides and isolates become visible escapes', () => {
  assert.equal(visible('\u001b[2Jclear'), '\\x1b[2Jclear');
  assert.equal(visible('a\u0000b\rc\nd\te\u007f\u009b'), 'a\\x00b\\rc\\nd\\te\\x7f\\x9b');
  assert.equal(visible('invoice_\u202Egnp.exe'), 'invoice_\\u202egnp.exe');
  assert.equal(visible('\u2066x\u2069 \u202a\u202b\u202c\u202d \u200e\u200f\u061c \u2028\u2029'), '\\u2066x\\u2069 \\u202a\\u202b\\u202c\\u202d \\u200e\\u200f\\u061c \\u2028\\u2029');
  assert.equal(visible('é☃ ok, ünïcode'), 'é☃ ok, ünïcode');
});

test('any text comes out with no raw control or bidi character (property)', () => {
  const dangerous = fc.constantFrom('\u001b', '\u0000', '\r', '\n', '\u007f', '\u009b', '\u061c', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069');
  const unit = fc.oneof(dangerous, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
  fc.assert(fc.property(fc.string({ unit }), (s) => !RAW.test(visible(s))));
});

test('a diagnostic quoting a crafted file name and content prints no control character', () => {
  const line = formatDiagnostic({
    severity: 'error', code: 'unknown-key', file: '/tmp/evil\u001b[2J\r.yaml', line: 3, column: 1,
    message: 'unknown key "na\u0000me\u202E"', hint: 'did you mean "name"?\n::error::forged',
  });
  assert.ok(!RAW.test(line.replace('\n    hint: ', ' ')), JSON.stringify(line));
  assert.equal(line, '/tmp/evil\\x1b[2J\\r.yaml:3:1: error[unknown-key]: unknown key "na\\x00me\\u202e"\n    hint: did you mean "name"?\\n::error::forged');
});

test('visibleJson: the same JSON value, with nothing a terminal obeys (C1 CSI, bidi overrides stay escapes)', () => {
  const value = { name: 'a\u009b2Jb\u202ec', argv: ['x\u2028y', '\u007f'] };
  const text = visibleJson(value, 2);
  assert.ok(!RAW.test(text.replace(/\n {0,8}/g, '')), text);
  assert.match(text, /a\\u009b2Jb\\u202ec/);
  assert.deepEqual(JSON.parse(text), value);
  fc.assert(fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (v, s) => {
    const doc = { v, s };
    const out = visibleJson(doc);
    return !RAW.test(out) && JSON.stringify(JSON.parse(out)) === JSON.stringify(doc);
  }));
});
