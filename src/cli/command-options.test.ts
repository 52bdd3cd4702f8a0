import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandOptions } from './command-options.ts';
import { parseWatchOptions } from './watch-command.ts';

void test('watch and report options: both spellings, repeatable --output, and usage errors naming the command', () => {
  assert.deepEqual(parseWatchOptions(['--config', 'c.yaml', '--output=github', '--output', 'sarif=x.sarif', '-q', '--jsonl=d.jsonl']), {
    config: 'c.yaml', outputs: ['github', 'sarif=x.sarif'], jsonl: 'd.jsonl', environment: undefined, quiet: true, healthIntervalS: 60,
  });
  assert.equal(parseWatchOptions(['-h']), 'help');
  assert.throws(() => parseWatchOptions(['--bogus']), /^UsageError: watch: Unknown option '--bogus'/);
  assert.throws(() => parseWatchOptions(['--jsonl=']), /watch: --jsonl needs a value/);
  assert.throws(() => parseWatchOptions(['stray']), /watch: Unexpected argument 'stray'/);
  assert.equal((parseWatchOptions(['--health-interval', '0']) as { healthIntervalS: number }).healthIntervalS, 0);
  assert.throws(() => parseWatchOptions(['--health-interval', '1.5s']), /watch: --health-interval takes whole seconds .* not "1\.5s"/);
  const r = parseCommandOptions('report', ['a.jsonl', '--fail-on', 'low', 'b.jsonl'], { values: ['fail-on'], flags: [] }, true);
  assert.deepEqual(r.positionals, ['a.jsonl', 'b.jsonl']);
  assert.equal(r.values.get('fail-on'), 'low');
});
