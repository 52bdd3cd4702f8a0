// The same activity seen by each sensor gives the same access events: strace's lines, the
// lines of bpftrace's tripline.bt and the compiled sensor's records, through their own parsers
// and streams, all judged by one syscall table (syscall-access.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessEvent, SensorEvent } from '../model/sensor-event.ts';
import { BpfEventStream } from './bpftrace/bpftrace-event-stream.ts';
import { LAYOUT, RecordDecoder } from './compiled/record-decoder.ts';
import type { ProcfsReader } from './procfs-reader.ts';
import { mapStraceRecord } from './strace/strace-event-mapper.ts';
import { StraceLineParser } from './strace/strace-line-parser.ts';
import { baseSyscall } from './syscall-access.ts';

const NOTHING: ProcfsReader = { facts: () => undefined, cwd: () => undefined, fdPath: () => undefined, realpath: () => undefined, verifiedExe: () => undefined };
const PID = 4242;

interface Case {
  readonly name: string;
  /** The action the engine must be told (so a wrong row in the shared table fails too). */
  readonly action: string;
  readonly strace: string;
  /** tripline.bt's FILE fields after the pid/start/exec: syscall, dfd, arg (hex), ret, why, path, rk, depth, names. */
  readonly bpf: { syscall: string; kind: number; dfd: number; arg: number; ret: number; why: number; path: string; rk: 'o' | 'b' | '-'; names: string[] };
}

const CASES: readonly Case[] = [
  {
    name: 'openat read', action: 'read', strace: `${PID}  1.000001 openat(AT_FDCWD</>, "/proc/sys/net/core/somaxconn", O_RDONLY|O_CLOEXEC) = 3</proc/sys/net/core/somaxconn>`,
    bpf: { syscall: 'openat', kind: 2, dfd: -100, arg: 0o2000000, ret: 3, why: 17, path: '/proc/sys/net/core/somaxconn', rk: 'o', names: ['somaxconn', 'core', 'net', 'sys'] },
  },
  {
    name: 'open for writing', action: 'write', strace: `${PID}  1.000001 open("/proc/sys/net/ipv4/ip_forward", O_WRONLY|O_TRUNC) = 3</proc/sys/net/ipv4/ip_forward>`,
    bpf: { syscall: 'open', kind: 1, dfd: -100, arg: 0o1001, ret: 3, why: 17, path: '/proc/sys/net/ipv4/ip_forward', rk: 'o', names: ['ip_forward', 'ipv4', 'net', 'sys'] },
  },
  {
    name: 'newfstatat', action: 'stat', strace: `${PID}  1.000001 newfstatat(AT_FDCWD</>, "/proc/sys/net/ipv4", {st_mode=S_IFDIR|0555, ...}, 0) = 0`,
    bpf: { syscall: 'newfstatat', kind: 7, dfd: -100, arg: 0, ret: 0, why: 1, path: '/proc/sys/net/ipv4', rk: '-', names: [] },
  },
  {
    name: 'lstat', action: 'stat', strace: `${PID}  1.000001 lstat("/proc/sys/net/unix", {st_mode=S_IFDIR|0555, ...}) = 0`,
    bpf: { syscall: 'newlstat', kind: 6, dfd: -100, arg: 0, ret: 0, why: 1, path: '/proc/sys/net/unix', rk: '-', names: [] },
  },
  {
    name: 'faccessat failing', action: 'access', strace: `${PID}  1.000001 faccessat(AT_FDCWD</>, "/proc/sys/net/nope", R_OK) = -1 ENOENT (No such file or directory)`,
    bpf: { syscall: 'faccessat', kind: 10, dfd: -100, arg: 4, ret: -2, why: 1, path: '/proc/sys/net/nope', rk: '-', names: [] },
  },
  {
    name: 'readlink', action: 'readlink', strace: `${PID}  1.000001 readlink("/proc/sys/net/core/x", 0x7ffd, 4096) = -1 EINVAL (Invalid argument)`,
    bpf: { syscall: 'readlink', kind: 12, dfd: -100, arg: 0, ret: -22, why: 1, path: '/proc/sys/net/core/x', rk: '-', names: [] },
  },
  {
    name: 'getdents64', action: 'list', strace: `${PID}  1.000001 getdents64(3</proc/sys/net/unix>, 0x5581 /* 3 entries */, 32768) = 80`,
    bpf: { syscall: 'getdents64', kind: 16, dfd: 3, arg: 0, ret: 80, why: 16, path: '', rk: 'o', names: ['unix', 'net', 'sys'] },
  },
  {
    name: 'statfs', action: 'stat', strace: `${PID}  1.000001 statfs("/proc/sys/net/core", {f_type=PROC_SUPER_MAGIC, f_bsize=4096}) = 0`,
    bpf: { syscall: 'statfs', kind: 18, dfd: -100, arg: 0, ret: 0, why: 1, path: '/proc/sys/net/core', rk: '-', names: [] },
  },
];

/** What every sensor can tell of an access (a stat's file type is only in strace's answer). */
function comparable(e: AccessEvent): Record<string, unknown> {
  return {
    syscall: baseSyscall(e.syscall), action: e.action, path: e.path, resolvedPath: e.resolvedPath, error: e.error, noFollow: e.noFollow === true,
    ...(e.action === 'list' ? { isDirectory: e.isDirectory } : {}),
  };
}

function accesses(events: readonly SensorEvent[]): Record<string, unknown>[] {
  return events.filter((e): e is AccessEvent => e.kind === 'access').map(comparable);
}

function viaStrace(c: Case): Record<string, unknown>[] {
  const rec = new StraceLineParser().parse(c.strace);
  assert.ok(rec !== undefined && rec.type === 'syscall', c.strace);
  const event = mapStraceRecord(rec);
  return accesses(event === undefined ? [] : [event]);
}

function viaBpftrace(c: Case): Record<string, unknown>[] {
  const stream = new BpfEventStream({ procfs: NOTHING, offsetNs: 0n });
  stream.push('READY\t1000\t0.0\t1\t0\t0');
  const b = c.bpf;
  const names = [...b.names, '', '', '', ''].slice(0, 4);
  stream.push(['FILE', '2000', `tracepoint:syscalls:sys_exit_${b.syscall}`, PID, 500, 1, b.dfd, b.arg.toString(16), b.ret, b.why, b.path, b.rk, b.rk === '-' ? -1 : b.names.length, ...names].join('\t'));
  return accesses(stream.release());
}

function viaCompiled(c: Case): Record<string, unknown>[] {
  const b = c.bpf;
  const path = Buffer.from(b.path);
  const names = Buffer.from(b.names.map((n) => `${n}\0`).join(''));
  const r = Buffer.alloc(LAYOUT.file.data + names.length + path.length);
  r.writeUInt32LE(7, 0);
  r.writeUInt32LE(r.length, 4);
  r.writeBigUInt64LE(2000n, 8);
  r.writeUInt32LE(PID, 16);
  r.writeUInt32LE(1, 20);
  r.writeBigUInt64LE(500n, 24);
  r.writeUInt16LE(b.kind, 32);
  r.writeUInt8(b.rk.charCodeAt(0), 35);
  r.writeInt8(b.rk === '-' ? -1 : b.names.length, 36);
  r.writeUInt16LE(path.length, 38);
  r.writeInt32LE(b.dfd, 40);
  r.writeUInt16LE(b.why, 44);
  r.writeUInt16LE(names.length, 46);
  r.writeBigUInt64LE(BigInt(b.arg), 48);
  r.writeBigInt64LE(BigInt(b.ret), 56);
  names.copy(r, LAYOUT.file.data);
  path.copy(r, LAYOUT.file.data + names.length);
  const stream = new BpfEventStream({ procfs: NOTHING, offsetNs: 0n });
  stream.push('READY\t1000\t0.0\t1\t0\t0');
  stream.pushRecord(new RecordDecoder().decode(r));
  return accesses(stream.release());
}

for (const c of CASES) {
  test(`${c.name}: strace, bpftrace and the compiled sensor give the same access`, () => {
    const expected = viaStrace(c);
    assert.equal(expected.length, 1, `strace gave ${JSON.stringify(expected)}`);
    assert.equal(expected[0]?.action, c.action);
    assert.deepEqual(viaBpftrace(c), expected, 'bpftrace');
    assert.deepEqual(viaCompiled(c), expected, 'compiled sensor');
  });
}
