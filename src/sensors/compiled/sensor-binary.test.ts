import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { COMPILED_SENSOR_PATH } from '../ebpf-sensor.ts';
import { RecordDecoder, RECORDS_VERSION, type TierInfo } from './record-decoder.ts';

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

/** The loader's --probe: what it attached, and its `hooks:` line about the security-hook tier. */
function probe(): { status: number | null; stdout: string; stderr: string; hooks: { state: string; errno: number; reason: string } | undefined } {
  const r = spawnSync(COMPILED_SENSOR_PATH, ['--probe'], { encoding: 'utf8', timeout: 60_000 });
  const m = /^hooks: (\w+) \(errno (-?\d+)\): (.*)$/m.exec(r.stdout);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, hooks: m ? { state: m[1] ?? '', errno: Number(m[2]), reason: m[3] ?? '' } : undefined };
}

test('the security-hook tier loads, attaches and sees each of its hooks fire (skipped where the kernel refuses it)', { skip: reason ?? false }, (t) => {
  const r = probe();
  assert.equal(r.status, 0, r.stderr.split('\n').filter((l) => !l.startsWith(';')).slice(-15).join('\n'));
  assert.ok(r.hooks, `no hooks: line in the probe's output:\n${r.stdout}`);
  if (r.hooks.state === 'refused') {
    // This machine (kernel 6.18, a Firecracker VM): EPERM for fentry even as root.
    assert.ok(r.hooks.errno > 0, 'a refusal names its errno');
    t.skip(`the kernel refuses the security-hook programs, so the tier can only be probed here: "${r.hooks.reason}" (errno ${r.hooks.errno})`);
    return;
  }
  // Loaded: then it must attach, and each hook must have seen the loader's own access to /proc/sys/net.
  assert.equal(r.hooks.state, 'probed', r.hooks.reason);
  assert.match(r.stdout, /^tier: tracepoints$/m);
});

test('the tracepoint tier still attaches, and the loader says before READY that it writes the records and why the hooks do not', { skip: reason ?? false }, async (t) => {
  const start = performance.now();
  const child = spawn(COMPILED_SENSOR_PATH, [String(process.pid), String(statSync('/proc').dev), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve(); }); });
  const decoder = new RecordDecoder();
  let tierAtReady: TierInfo | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        decoder.push(chunk, (record) => {
          if (record.type === 'ready') {
            tierAtReady = decoder.tier;
            resolve();
          }
        });
      });
      void exited.then(() => { reject(new Error(`the sensor exited before READY: ${stderr}`)); });
    });
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  t.diagnostic(`attach (spawn to READY): ${(performance.now() - start).toFixed(0)} ms`);
  assert.equal(decoder.ready?.version, RECORDS_VERSION);
  assert.ok(tierAtReady, 'a TIER record came before READY');
  assert.equal(tierAtReady.tier, 'tracepoints');
  // The run says what the probe says.
  const p = probe();
  assert.equal(tierAtReady.hooks, p.hooks?.state);
  if (tierAtReady.hooks === 'refused') {
    assert.ok(tierAtReady.error > 0);
    assert.match(tierAtReady.reason, /^the kernel refused the security-hook programs \(fentry\/security_\w+\): \S/);
    assert.equal(tierAtReady.reason, p.hooks?.reason);
  }
  // A run keeps libbpf's complaints about the hooks out of stderr: the TIER record carries them.
  assert.doesNotMatch(stderr, /tripline_hooks_bpf|hook_file_open/);
});
