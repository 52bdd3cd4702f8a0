import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunOptions } from './run-options.ts';
import { UsageError } from './usage-error.ts';

test('options before "--", the command after it, untouched', () => {
  const o = parseRunOptions(['--jsonl', 'out.jsonl', '--fail-on=low', '--environment', 'ci', '-q', '--', 'sh', '-c', 'exit 7', '--jsonl']);
  assert.deepEqual(o, { command: ['sh', '-c', 'exit 7', '--jsonl'], config: undefined, jsonl: 'out.jsonl', jsonlFinalOnly: undefined, failOn: 'low', environment: 'ci', quiet: true, help: false, sensor: undefined, outputs: [], store: undefined, noStore: false });
  assert.deepEqual(parseRunOptions(['--output', 'sarif=a.sarif', '--output=github', 'true']).outputs, ['sarif=a.sarif', 'github']);
  assert.equal(parseRunOptions(['--config', 'ci.yaml', 'true']).config, 'ci.yaml');
  assert.equal(parseRunOptions(['--sensor', 'ebpf', 'true']).sensor, 'ebpf');
  assert.equal(parseRunOptions(['--jsonl-final-only', 'true']).jsonlFinalOnly, true);
  assert.throws(() => parseRunOptions(['--sensor', 'kprobe', 'true']), /--sensor "kprobe" is not a sensor/);
});

test('without "--" the first word that is not an option starts the command', () => {
  assert.deepEqual(parseRunOptions(['sysctl', '-a']).command, ['sysctl', '-a']);
  assert.equal(parseRunOptions(['--quiet', 'ls', '--help']).help, false);
});

test('mistakes are usage errors that name the option', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus', '--', 'true'], /unknown option --bogus/],
    [['--fail-on', 'severe', '--', 'true'], /--fail-on "severe" is not a level/],
    [['--jsonl'], /--jsonl needs a value/],
    [['--jsonl=', '--', 'true'], /--jsonl needs a value/],
    [['--jsonl', 'a', '--jsonl', 'b', '--', 'true'], /--jsonl given twice/],
    [['--quiet'], /no command given/],
    [[], /no command given/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseRunOptions(args), (e: unknown) => e instanceof UsageError && message.test(e.message), args.join(' '));
  }
});

test('--help needs no command', () => {
  assert.equal(parseRunOptions(['--help']).help, true);
});

test('--store PATH and --no-store are run options, before the command', () => {
  const o = parseRunOptions(['--store', 'x.db', '--', 'true', '--no-store']);
  assert.equal(o.store, 'x.db');
  assert.equal(o.noStore, false, 'after "--" it is the command\'s');
  assert.deepEqual(o.command, ['true', '--no-store']);
  assert.equal(parseRunOptions(['--no-store', 'true']).noStore, true);
});
