// End to end, real strace: ordinary programs that touch one or two areas of /proc/sys/net, or
// only write settings, make no detection, and the command's exit code comes through.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  assertSilent, IS_ROOT, NET, PYTHON, runTripline, sysctlValue, TEST_TIMEOUT, which, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const pyOpts = PYTHON === undefined ? { ...opts, skip: 'python3 is not installed' } : opts;
const SYSCTL = which('sysctl');
const sysctlOpts = SYSCTL === undefined ? { ...opts, skip: 'sysctl (procps) is not installed' } : opts;
const writeOpts = SYSCTL === undefined
  ? { ...opts, skip: 'sysctl (procps) is not installed' }
  : IS_ROOT ? opts : { ...opts, skip: 'writing settings needs root' };

/**
 * Three settings a firewall-style tool writes. Writing net.ipv6.conf.all.forwarding copies the
 * value to conf/default and to every interface (the kernel does not skip an unchanged value),
 * so it is used only when they all hold the same value already; else net.unix.max_dgram_qlen.
 */
function writableKeys(): string[] {
  const keys = ['net.core.somaxconn', 'net.ipv4.ip_forward'];
  let ipv6Uniform = false;
  try {
    const confDir = `${NET}/ipv6/conf`;
    const values = readdirSync(confDir).map((iface) => readFileSync(`${confDir}/${iface}/forwarding`, 'utf8').trim());
    ipv6Uniform = values.length > 0 && values.every((v) => v === values[0]);
  } catch {
    ipv6Uniform = false;
  }
  keys.push(ipv6Uniform ? 'net.ipv6.conf.all.forwarding' : 'net.unix.max_dgram_qlen');
  return keys;
}

/** Runs `body` with the current values of `keys`, and checks afterwards that none changed. */
async function withUnchangedSettings(keys: readonly string[], body: (values: Map<string, string>) => Promise<void>): Promise<void> {
  const before = new Map(keys.map((k) => [k, sysctlValue(k)]));
  try {
    await body(before);
  } finally {
    for (const [k, v] of before) assert.equal(sysctlValue(k), v, `${k} changed`);
  }
}

const keyPath = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

void describe('silent: readers of one or two areas', () => {
  void test('node listening on 127.0.0.1:0 then closing', opts, () => withTempDir(async (dir) => {
    const script = "const s = require('net').createServer(); s.listen(0, '127.0.0.1', () => s.close(() => process.exit(4)));";
    const r = await runTripline([process.execPath, '-e', script], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 4);
  }));

  void test('python3 socket listen on 127.0.0.1', pyOpts, () => withTempDir(async (dir) => {
    const script = 'import socket, sys\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen()\ns.close()\nsys.exit(6)';
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 6);
  }));

  void test('single-key sysctl net.core.somaxconn', sysctlOpts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sysctl', 'net.core.somaxconn'], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^net\.core\.somaxconn = \d+\n$/);
  }));

  void test('sysctl -n net.ipv4.ip_forward', sysctlOpts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sysctl', '-n', 'net.ipv4.ip_forward'], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, readFileSync(`${NET}/ipv4/ip_forward`, 'utf8'));
  }));

  void test('a monitoring loop reading two counters in two areas three times', opts, () => withTempDir(async (dir) => {
    const script = `for i in 1 2 3; do cat ${NET}/core/somaxconn >/dev/null; cat ${NET}/ipv4/tcp_mem >/dev/null; sleep 0.05; done; exit 2`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 2);
  }));

  void test('a missing area probed (ENOENT) does not count toward breadth', opts, () => withTempDir(async (dir) => {
    const script = `cat ${NET}/core/somaxconn ${NET}/ipv4/ip_forward ${NET}/no-such-area/x ${NET}/nor-this/y 2>/dev/null; exit 0`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assertSilent(r);
  }));

  void test('files directly in /proc/sys/net count for the root, which never counts', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', `ls ${NET} >/dev/null; stat ${NET} ${NET}/ >/dev/null; cat ${NET}/core/somaxconn >/dev/null`], { dir });
    assertSilent(r);
  }));

  const ifconfig = which('ifconfig', ['/usr/sbin/ifconfig', '/sbin/ifconfig']);
  void test('ifconfig -a', ifconfig === undefined ? { ...opts, skip: 'ifconfig is not installed' } : opts, () => withTempDir(async (dir) => {
    const r = await runTripline([ifconfig ?? 'ifconfig', '-a'], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0, r.stderr);
  }));

  const ip = which('ip', ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']);
  void test('ip addr', ip === undefined ? { ...opts, skip: 'ip (iproute2) is not installed' } : opts, () => withTempDir(async (dir) => {
    const r = await runTripline([ip ?? 'ip', 'addr'], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0, r.stderr);
  }));

  void test('a symlink into one area does not make unrelated files look like /proc/sys/net',
    opts,
    () => withTempDir(async (dir) => {
      for (const sub of ['a', 'b', 'c']) {
        mkdirSync(join(dir, sub));
        writeFileSync(join(dir, sub, 'f'), '');
      }
      symlinkSync(`${NET}/ipv4`, join(dir, 'ipv4'));
      const script = `cat ${dir}/ipv4/ip_forward >/dev/null; stat ${dir}/a/f ${dir}/b/f ${dir}/c/f >/dev/null`;
      const r = await runTripline(['sh', '-c', script], { dir });
      assert.equal(r.exitCode, 0, r.stderr);
      assertSilent(r);
    }));
});

void describe('silent: a firewall-style tool writing settings to their current values', () => {
  void test('sysctl -w of three settings', writeOpts, () => withTempDir((dir) => withUnchangedSettings(writableKeys(), async (values) => {
    const r = await runTripline(['sysctl', '-w', ...[...values].map(([k, v]) => `${k}=${v}`)], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0, r.stderr);
  })));

  void test('sysctl -w, one process per setting, from a script', writeOpts, () => withTempDir((dir) => withUnchangedSettings(writableKeys(), async (values) => {
    const script = [...values].map(([k, v]) => `sysctl -q -w ${k}=${v}`).join(' && ');
    const r = await runTripline(['sh', '-c', script], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0, r.stderr);
  })));

  void test('sysctl -p FILE', writeOpts, () => withTempDir((dir) => withUnchangedSettings(writableKeys(), async (values) => {
    const conf = join(dir, '90-firewall.conf');
    writeFileSync(conf, `# written by the e2e tests: current values only\n${[...values].map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
    const r = await runTripline(['sysctl', '-p', conf], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 0, r.stderr);
  })));

  void test('echo V > /proc/sys/net/... writes', writeOpts, () => withTempDir((dir) => withUnchangedSettings(writableKeys(), async (values) => {
    const script = `${[...values].map(([k, v]) => `echo ${v} > ${keyPath(k)}`).join(' && ')} && exit 8`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assertSilent(r);
    assert.equal(r.exitCode, 8, r.stderr);
  })));
});
