import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineSplitter } from './line-splitter.ts';

function split(chunks: readonly Buffer[], max = 1000): { lines: string[]; rest: string | undefined; dropped: number } {
  const s = new LineSplitter(max);
  const lines: string[] = [];
  for (const c of chunks) s.push(c, (l) => lines.push(l));
  return { lines, rest: s.end(), dropped: s.dropped };
}

test('lines split across chunks, including inside a multi-byte character', () => {
  const bytes = Buffer.from('ab\ncé☃\nlast', 'utf8');
  const r = split([bytes.subarray(0, 5), bytes.subarray(5, 7), bytes.subarray(7)]);
  assert.deepEqual(r.lines, ['ab', 'cé☃']);
  assert.equal(r.rest, 'last');
});

test('an overlong line is dropped and counted, the next lines survive', () => {
  const r = split([Buffer.from('x'.repeat(30)), Buffer.from(`${'y'.repeat(30)}\nok\n`)], 40);
  assert.deepEqual(r.lines, ['ok']);
  assert.equal(r.dropped, 1);
  assert.equal(r.rest, undefined);
});

test('property: however the bytes are chunked, the lines are the same', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 20 }), { maxLength: 20 }), fc.array(fc.nat(200), { maxLength: 10 }), (lines, cuts) => {
      const text = lines.join('\n');
      const bytes = Buffer.from(text, 'utf8');
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const p of points) {
        chunks.push(bytes.subarray(from, p));
        from = p;
      }
      chunks.push(bytes.subarray(from));
      const r = split(chunks);
      const expected = text.split('\n');
      const last = expected.pop();
      assert.deepEqual(r.lines, expected);
      assert.equal(r.rest, last === '' ? undefined : last);
    }),
    { numRuns: 300 },
  );
});
