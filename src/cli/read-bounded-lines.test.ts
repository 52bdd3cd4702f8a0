import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { LineFileError, readBoundedLines, type BoundedLine } from './read-bounded-lines.ts';

const DIR = mkdtempSync(join(tmpdir(), 'tripline-lines-'));
after(() => {
  rmSync(DIR, { recursive: true, force: true });
});

async function readAll(path: string, max: number, chunk?: number): Promise<BoundedLine[]> {
  const out: BoundedLine[] = [];
  for await (const l of readBoundedLines(path, max, chunk)) out.push(l);
  return out;
}

function fileOf(name: string, content: string | Buffer): string {
  const path = join(DIR, name);
  writeFileSync(path, content);
  return path;
}

void describe('readBoundedLines', () => {
  void test('lines across chunk boundaries, multi-byte characters cut by a chunk, a last line without newline', async () => {
    const path = fileOf('a.txt', 'één\n\nsnow ☃☃☃ man\r\nlast');
    assert.deepEqual(await readAll(path, 100, 3), [
      { line: 1, text: 'één' }, { line: 2, text: '' }, { line: 3, text: 'snow ☃☃☃ man\r' }, { line: 4, text: 'last' },
    ]);
  });

  void test('a line over the limit is reported with its number and length; the lines after it still come', async () => {
    const path = fileOf('b.txt', `ok\n${'x'.repeat(25)}\nafter\n${'y'.repeat(11)}`);
    assert.deepEqual(await readAll(path, 10, 4), [{ line: 1, text: 'ok' }, { line: 2, tooLong: 25 }, { line: 3, text: 'after' }, { line: 4, tooLong: 11 }]);
    assert.deepEqual(await readAll(path, 10), [{ line: 1, text: 'ok' }, { line: 2, tooLong: 25 }, { line: 3, text: 'after' }, { line: 4, tooLong: 11 }]);
  });

  void test('any text with any chunk size reads back as its lines (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replace(/\n/g, '')), { maxLength: 12 }), fc.integer({ min: 1, max: 17 }), async (lines, chunk) => {
      const path = fileOf('p.txt', lines.map((l) => `${l}\n`).join(''));
      const got = await readAll(path, 1000, chunk);
      assert.deepEqual(got, lines.map((text, i) => ({ line: i + 1, text })));
    }), { numRuns: 200 });
  });

  void test('a missing file, a directory and a FIFO are refused at once, in words', async () => {
    await assert.rejects(readAll(join(DIR, 'missing.jsonl'), 10), (e: unknown) => e instanceof LineFileError && e.message === 'no such file');
    await assert.rejects(readAll(DIR, 10), (e: unknown) => e instanceof LineFileError && /not a regular file/.test(e.message));
    const fifo = join(DIR, 'fifo.jsonl');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readAll(fifo, 10), (e: unknown) => e instanceof LineFileError && e.message === 'not a regular file');
  });
});
