import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { unescapeCString } from './c-string.ts';

/** Quotes a string the way strace does by default: printable ASCII as is, the rest as octal escapes. */
function straceQuote(value: string): string {
  let out = '';
  const bytes = Buffer.from(value, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    const next = bytes[i + 1];
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (next !== undefined && next >= 0x30 && next <= 0x37) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += `\\${b.toString(8)}`;
  }
  return out;
}

test('a body without backslashes is returned as is', () => {
  const body = '/proc/sys/net/core/somaxconn';
  assert.equal(unescapeCString(body), body);
});

test('simple escapes, octal of 1 to 3 digits and hex decode to bytes, then UTF-8', () => {
  assert.equal(unescapeCString('a\\nb\\tc\\"d\\\\e'), 'a\nb\tc"d\\e');
  assert.equal(unescapeCString('\\303\\251t\\342\\230\\203'), 'ét☃');
  assert.equal(unescapeCString('x\\74y\\76z'), 'x<y>z');
  assert.equal(unescapeCString('\\xe2\\x98\\x83'), '☃');
  assert.equal(unescapeCString('\\0'), '\u0000');
});

test('an unknown escape keeps its backslash', () => {
  assert.equal(unescapeCString('a\\qb'), 'a\\qb');
  assert.equal(unescapeCString('trailing\\'), 'trailing\\');
});

test('property: decoding what strace would print gives back the original string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (s) => {
      assert.equal(unescapeCString(straceQuote(s)), s);
    }),
    { numRuns: 500 },
  );
});

test('property: never throws on arbitrary input', () => {
  fc.assert(fc.property(fc.string(), (s) => void unescapeCString(s)), { numRuns: 500 });
});
