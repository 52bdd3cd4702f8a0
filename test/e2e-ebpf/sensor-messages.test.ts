// End to end: what tripline says about its eBPF sensor. watch without root says what works
// instead; a slow attach (bpftrace compiles first) is announced while it happens; the run
// summary gives the command's duration with the attach and the detach apart.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cleanEnv, TRIPLINE_BIN } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();
const opts = { skip: reason ?? false, timeout: 180_000 } as const;

void test('watch without root says to wrap a command with tripline run, not a flag watch does not take', opts, () => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, TRIPLINE_BIN, 'watch'], { encoding: 'utf8', env: cleanEnv(), cwd: '/' });
  assert.equal(r.status, 69, r.stderr);
  assert.match(r.stderr, /tripline watch needs root/);
  assert.match(r.stderr, /tripline run -- COMMAND \(ptrace, no privileges needed\)/);
  assert.doesNotMatch(r.stderr, /--sensor ptrace/);
});

void test('the run summary gives attach and detach apart from the command\'s duration', opts, () => {
  const r = spawnSync(process.execPath, [TRIPLINE_BIN, 'run', '--sensor', 'ebpf', '--', 'true'], { encoding: 'utf8', env: cleanEnv() });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\(exit 0, [\d.]+ (ms|s), eBPF, .*, attach [\d.]+ (ms|s), detach [\d.]+ (ms|s), \d+ trace lines\)/);
});

void test('bpftrace\'s slow attach is announced before the command starts', opts, () => {
  const r = spawnSync(process.execPath, [TRIPLINE_BIN, 'run', '--sensor', 'ebpf', '--', 'sh', '-c', 'echo started >&2'], { encoding: 'utf8', env: cleanEnv({ TRIPLINE_EBPF_PROGRAM: 'bpftrace' }) });
  assert.equal(r.status, 0, r.stderr);
  const notice = r.stderr.indexOf('tripline: sensor: attaching bpftrace (eBPF); the command starts once it is attached');
  assert.ok(notice >= 0, r.stderr);
  assert.ok(notice < r.stderr.indexOf('started\n'), 'the notice comes before the command runs');
  // bpftrace's attach (seconds) is not counted in the command's duration.
  const summary = /\(exit 0, ([\d.]+) (ms|s), eBPF, bpftrace [^,]*, attach ([\d.]+) s/.exec(r.stderr);
  assert.ok(summary !== null, r.stderr);
  const commandMs = Number(summary[1]) * (summary[2] === 's' ? 1000 : 1);
  assert.ok(commandMs < Number(summary[3]) * 1000, `command ${String(commandMs)} ms, attach ${String(summary[3])} s`);
});
