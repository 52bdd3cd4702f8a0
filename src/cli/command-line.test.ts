import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { nearest, parseCommandLine, type CommandLineSpec } from './command-line.ts';
import { UsageError } from './usage-error.ts';

const RUN: CommandLineSpec = {
  command: 'run',
  options: { jsonl: { type: 'string' }, output: { type: 'string', multiple: true }, quiet: { type: 'boolean', short: 'q' } },
  operands: 'command',
};
const LIST: CommandLineSpec = { command: 'recipes list', options: { config: { type: 'string' }, json: { type: 'boolean' } }, operands: 'none' };
const REPORT: CommandLineSpec = { command: 'report', options: { quiet: { type: 'boolean' } }, operands: 'any' };

function usageError(spec: CommandLineSpec, args: readonly string[]): string {
  try {
    parseCommandLine(spec, args);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error.message;
  }
  assert.fail(`no error for ${args.join(' ')}`);
}

test('one style of error for every mistake, naming the command and the option', () => {
  assert.equal(usageError(RUN, ['--bogus', '--', 'true']), 'run: unknown option --bogus; see tripline run --help');
  assert.equal(usageError(RUN, ['--jsnol', 'x', 'true']), 'run: unknown option --jsnol (did you mean --jsonl?); see tripline run --help');
  assert.equal(usageError(LIST, ['--jsn']), 'recipes list: unknown option --jsn (did you mean --json?); see tripline recipes list --help');
  assert.equal(usageError(LIST, ['--bogus']), 'recipes list: unknown option --bogus; see tripline recipes list --help');
  assert.equal(usageError(LIST, ['extra']), 'recipes list: unexpected argument "extra" (see tripline recipes list --help)');
  assert.equal(usageError(RUN, ['--jsonl']), 'run: --jsonl needs a value (see tripline run --help)');
  assert.equal(usageError(RUN, ['--jsonl=', 'true']), 'run: --jsonl needs a value (see tripline run --help)');
  assert.equal(usageError(RUN, ['--quiet=yes', 'true']), 'run: --quiet takes no value (see tripline run --help)');
  assert.equal(usageError(RUN, ['--jsonl', 'a', '--jsonl=b', 'true']), 'run: --jsonl given twice');
});

test('a value that looks like an option is refused, not taken: `run --jsonl -- true` writes no file named "--"', () => {
  assert.equal(usageError(RUN, ['--jsonl', '--', 'true']), 'run: --jsonl needs a value (see tripline run --help)');
  assert.match(usageError(RUN, ['--jsonl', '--quiet', 'true']), /--jsonl needs a value, not the option-like "--quiet" \(write --jsonl=--quiet/);
  assert.match(usageError(REPORT, ['--quiet', '--bogus=1']), /unknown option --bogus/);
  // Written with "=", a value may start with a dash; "-" alone (stdin/stdout) is a value.
  assert.equal(parseCommandLine(RUN, ['--jsonl=-x', 'true']).values.get('jsonl'), '-x');
  assert.equal(parseCommandLine(RUN, ['--jsonl', '-', 'true']).values.get('jsonl'), '-');
});

test('run-style lines: options end at "--" or at the first operand; the command is kept exactly', () => {
  const a = parseCommandLine(RUN, ['-q', '--output', 'a', '--output=b', 'ls', '-q', '--jsonl', 'x']);
  assert.deepEqual([...a.flags], ['quiet']);
  assert.deepEqual(a.lists.get('output'), ['a', 'b']);
  assert.deepEqual(a.operands, ['ls', '-q', '--jsonl', 'x']);
  assert.deepEqual(parseCommandLine(RUN, ['--', '--help']).operands, ['--help']);
  assert.equal(parseCommandLine(RUN, ['--', '--help']).help, false);
  assert.equal(parseCommandLine(RUN, ['-h']).help, true);
});

test('property: whatever follows "--" is the command, word for word, and no option is read from it', () => {
  fc.assert(fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 8 }), fc.boolean(), (command, quiet) => {
    const parsed = parseCommandLine(RUN, [...(quiet ? ['-q'] : []), '--jsonl', 'out.jsonl', '--', ...command]);
    assert.deepEqual(parsed.operands, command);
    assert.equal(parsed.flags.has('quiet'), quiet);
    assert.equal(parsed.values.get('jsonl'), 'out.jsonl');
  }));
});

test('property: an unknown long option is always a usage error, never ignored', () => {
  fc.assert(fc.property(fc.stringMatching(/^[a-z][a-z-]{0,15}$/), (name) => {
    fc.pre(!['jsonl', 'output', 'quiet', 'help'].includes(name));
    assert.throws(() => parseCommandLine(RUN, [`--${name}`, '--', 'true']), UsageError);
    assert.throws(() => parseCommandLine(LIST, [`--${name}`]), UsageError);
  }));
});

test('suggestions: near misses and prefixes only', () => {
  const known = ['jsonl', 'json', 'config', 'environment', 'fail-on', 'quiet'];
  assert.equal(nearest('confg', known), 'config');
  assert.equal(nearest('enviroment', known), 'environment');
  assert.equal(nearest('failon', known), 'fail-on');
  assert.equal(nearest('qiuet', known), 'quiet');
  assert.equal(nearest('env', known), 'environment');
  assert.equal(nearest('bogus', known), undefined);
  assert.equal(nearest('x', known), undefined);
});
