import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { COMPILED_SENSOR_PATH } from '../ebpf-sensor.ts';

const reason = process.getuid?.() !== 0 ? 'loading BPF programs needs root'
  : process.arch !== 'x64' ? 'the shipped sensor is built for x86_64'
    : !existsSync('/sys/kernel/btf/vmlinux') ? 'this kernel has no BTF' : undefined;

test('the shipped sensor loads, passes the verifier with a recipe root, and attaches on this kernel', { skip: reason ?? false }, () => {
  const r = spawnSync(COMPILED_SENSOR_PATH, ['--probe'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr.split('\n').filter((l) => !l.startsWith(';')).slice(-15).join('\n'));
  assert.match(r.stdout, /^attached: tp_btf sys_enter sys_exit io_uring_submit_req/);
});

test('the loader refuses bad arguments with a usage line, before loading anything', { skip: process.arch !== 'x64' ? 'built for x86_64' : false }, () => {
  for (const args of [[], ['1', '2'], ['x', '0', '0'], ['1', '0', '0', 'relative/root'], ['1', '0', '0', `/${'a'.repeat(200)}`]]) {
    const r = spawnSync(COMPILED_SENSOR_PATH, args, { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: tripline-sensor|is not an absolute path/);
  }
});
