// `tripline serve`'s command line and token: what is refused before anything listens.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { CommandIo } from './detection-session.ts';
import { main } from './main.ts';
import { parseServeOptions, readServeToken } from './serve-command.ts';
import { UsageError } from './usage-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'tripline-serve-cli-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });
const TOKEN = 'c2VydmUtY29tbWFuZC10ZXN0LXRva2Vu';
/** main() with captured stdout and stderr. */
async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
  return { code, stdout, stderr };
}

const io = (env: NodeJS.ProcessEnv = {}): CommandIo => ({ env, cwd: dir } as unknown as CommandIo);

function tokenFile(name: string, text: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

void describe('serve options', () => {
  void test('defaults: 127.0.0.1 port 7077', () => {
    const o = parseServeOptions([]);
    assert.ok(o !== 'help');
    assert.equal(o.host, '127.0.0.1');
    assert.equal(o.port, 7077);
  });
  void test('a bracketed IPv6 address is taken without brackets', () => {
    const o = parseServeOptions(['--host', '[::1]', '--port', '0']);
    assert.ok(o !== 'help');
    assert.equal(o.host, '::1');
    assert.equal(o.port, 0);
  });
  void test('a bad port or host is a usage error naming it', () => {
    assert.throws(() => parseServeOptions(['--port', '70000']), /--port "70000" is not a port/);
    assert.throws(() => parseServeOptions(['--port', 'http']), /--port "http" is not a port/);
    assert.throws(() => parseServeOptions(['--host', 'a b']), /--host "a b" is not an address/);
    assert.throws(() => parseServeOptions(['--token', TOKEN]), /unknown option --token/);
  });
});

void describe('the token', () => {
  void test('from a 0600 file, one line with or without its newline', () => {
    assert.equal(readServeToken(tokenFile('ok', `${TOKEN}\n`, 0o600), io()), TOKEN);
    assert.equal(readServeToken(tokenFile('ok2', TOKEN, 0o400), io()), TOKEN);
  });
  void test('through symbolic links, as a Kubernetes secret volume mounts it: the mode of the file read counts, not the link\'s', () => {
    // token -> ..data/token, ..data -> ..2026_01_01 (the kubelet's layout)
    const volume = join(dir, 'secret-volume');
    mkdirSync(join(volume, '..2026_01_01'), { recursive: true });
    symlinkSync('..2026_01_01', join(volume, '..data'));
    symlinkSync('..data/token', join(volume, 'token'));
    const target = tokenFile(join('secret-volume', '..2026_01_01', 'token'), `${TOKEN}\n`, 0o600);
    assert.equal(readServeToken(join(volume, 'token'), io()), TOKEN);
    chmodSync(target, 0o400);
    assert.equal(readServeToken(join(volume, 'token'), io()), TOKEN);
    chmodSync(target, 0o644);
    assert.throws(() => readServeToken(join(volume, 'token'), io()), (e: unknown) => e instanceof UsageError && /readable by group or others \(mode 0644\)/.test(e.message));
    chmodSync(target, 0o640);
    assert.throws(() => readServeToken(join(volume, 'token'), io()), /mode 0640/);
  });
  void test('the file wins over TRIPLINE_SERVE_TOKEN; the variable alone works', () => {
    assert.equal(readServeToken(tokenFile('ok3', TOKEN, 0o600), io({ TRIPLINE_SERVE_TOKEN: `${TOKEN}x` })), TOKEN);
    assert.equal(readServeToken(undefined, io({ TRIPLINE_SERVE_TOKEN: TOKEN })), TOKEN);
    assert.equal(readServeToken(undefined, io({})), undefined);
  });
  void test('refused: readable by others, two lines, too short, missing, and a short variable', () => {
    assert.throws(() => readServeToken(tokenFile('wide', TOKEN, 0o644), io()), (e: unknown) => e instanceof UsageError && /readable by group or others \(mode 0644\).*chmod 600/.test(e.message));
    assert.throws(() => readServeToken(tokenFile('two', `${TOKEN}\n${TOKEN}\n`, 0o600), io()), /more than one line/);
    assert.throws(() => readServeToken(tokenFile('short', 'abc\n', 0o600), io()), /at least 22/);
    assert.throws(() => readServeToken(join(dir, 'absent'), io()), /--token-file .*absent: ENOENT/);
    assert.throws(() => readServeToken(undefined, io({ TRIPLINE_SERVE_TOKEN: 'short' })), /TRIPLINE_SERVE_TOKEN cannot be used: .*at least 22/);
  });
});

void describe('the command', () => {
  void test('a non-loopback address without a token: exit 64 before anything listens', async () => {
    const r = await runMain(['serve', '--host', '0.0.0.0', '--store', join(dir, 'none.db')], {}, dir);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--host 0\.0\.0\.0 is not a loopback address.*a token is required/);
    assert.equal(r.stdout, '');
  });
  void test('a named store that does not exist: exit 64 naming it', async () => {
    const r = await runMain(['serve', '--port', '0', '--store', join(dir, 'typo.db')], {}, dir);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /typo\.db.*no store there/);
  });
});
