// The completion scripts, run by the real shells: bash completes commands, subcommands, options
// and option values; zsh loads the script without a syntax error.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bashCompletion, zshCompletion } from './completion-command.ts';

function withScript(text: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-completion-'));
  try {
    const file = join(dir, 'tripline.sh');
    writeFileSync(file, text);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What bash offers for the last word of `line` (the words as typed; the last may be empty). */
function bashOffers(script: string, words: readonly string[]): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${String(words.length - 1)}; _tripline; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('bash: commands, subcommands, options and their values', () => {
  withScript(bashCompletion(), (script) => {
    assert.deepEqual(bashOffers(script, ['tripline', 'r']), ['run', 'recipes', 'report']);
    assert.deepEqual(bashOffers(script, ['tripline', 'recipes', '']), ['list', 'show', 'validate', 'explain']);
    assert.deepEqual(bashOffers(script, ['tripline', 'run', '--fail-on', '']), ['never', 'low', 'medium', 'high', 'critical']);
    assert.deepEqual(bashOffers(script, ['tripline', 'run', '--sensor', 'e']), ['ebpf']);
    assert.deepEqual(bashOffers(script, ['tripline', 'watch', '--environment', 'pro']), ['production']);
    assert.deepEqual(bashOffers(script, ['tripline', 'run', '--js']), ['--jsonl', '--jsonl-final-only']);
    assert.deepEqual(bashOffers(script, ['tripline', 'report', '--j']), ['--json']);
    assert.deepEqual(bashOffers(script, ['tripline', 'completion', '']), ['bash', 'zsh']);
    // After "--" comes the command to run: bash's own command completion.
    assert.ok(bashOffers(script, ['tripline', 'run', '--quiet', '--', 'bas']).includes('bash'));
  });
});

test('zsh: the script loads and defines its completion function', { skip: spawnSync('zsh', ['-c', 'true']).status === 0 ? false : 'zsh is not installed (apt-get install -y zsh)' }, () => {
  withScript(zshCompletion(), (script) => {
    const syntax = spawnSync('zsh', ['-n', script], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    const loaded = spawnSync('zsh', ['-fc', `autoload -U compinit && compinit -u -D && source "$1" && whence -w _tripline`, 'zsh', script], { encoding: 'utf8' });
    assert.equal(loaded.status, 0, loaded.stderr);
    assert.match(loaded.stdout, /_tripline: function/);
  });
});
