import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DetectionPipeline } from '../../engine/detection-pipeline.ts';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../../recipes/builtin-recipes.ts';
import { LIVE_FILE_SYSTEM_PROBE } from '../live-file-system-probe.ts';
import type { ProcfsReader } from '../procfs-reader.ts';
import { BpfEventStream } from './bpftrace-event-stream.ts';
import { argvFromBytes, decodeBpfBuffer, parseBpfLine, procPathFromNames } from './bpftrace-line-parser.ts';

const FIXTURE = readFileSync(new URL('../../../test/fixtures/bpftrace/shell-loop.bpf', import.meta.url), 'utf8');
/** /proc knows nothing: every fact must come from the lines themselves (processes long gone). */
const EMPTY_PROCFS: ProcfsReader = { facts: () => undefined, cwd: () => undefined, fdPath: () => undefined, realpath: () => undefined, verifiedExe: () => undefined };

function replay(options: { rootPid?: number } = {}): SensorEvent[] {
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, ...options });
  for (const line of FIXTURE.split('\n')) stream.push(line);
  assert.equal(stream.stats.unparsed, 0, JSON.stringify(stream.stats.unparsedSamples));
  assert.equal(stream.isReady, true);
  return stream.release();
}

test('every line of the recording parses', () => {
  for (const line of FIXTURE.split('\n')) assert.notEqual(parseBpfLine(line)?.type, 'unparsed', line);
  assert.deepEqual(parseBpfLine('Lost 17 events'), { type: 'lost', count: 17 });
  assert.equal(parseBpfLine('FILE\t12\tnope')?.type, 'unparsed');
  assert.equal(parseBpfLine('garbage')?.type, 'unparsed');
});

test('dentry names become procfs paths when complete', () => {
  assert.equal(procPathFromNames(4, ['somaxconn', 'core', 'net', 'sys'], true), '/proc/sys/net/core/somaxconn');
  assert.equal(procPathFromNames(6, ['rp_filter', 'lo', 'conf', 'ipv4'], true), '/proc/sys/net/ipv4/conf/lo/rp_filter');
  assert.equal(procPathFromNames(6, ['a', 'b', 'c', 'd'], false), undefined);
  assert.equal(procPathFromNames(-1, [], false), undefined);
});

test('argv chunks are decoded and cut at the argv area', () => {
  const bytes = Buffer.concat([decodeBpfBuffer('cat\\x00/proc/sys/net/core/somaxconn\\x00ENV=x'), decodeBpfBuffer('')]);
  assert.deepEqual(argvFromBytes(bytes, 33), { argv: ['cat', '/proc/sys/net/core/somaxconn'], complete: true });
  assert.deepEqual(argvFromBytes(decodeBpfBuffer('sh\\x00-c\\x00long'), 350), { argv: ['sh', '-c', 'long'], complete: false });
});

test('the stream gives lifecycle and canonical accesses in time order, argv from the kernel', () => {
  const events = replay();
  const execs = events.filter((e) => e.kind === 'exec');
  assert.deepEqual(execs.map((e) => e.argv[0]), ['sh', 'cat', 'cat', 'cat', 'cat', 'ls', 'stat', 'cat']);
  const shArgv = execs[0]?.argv ?? [];
  assert.equal(shArgv[1], '-c');
  assert.match(shArgv[2] ?? '', /true$/, 'the whole script came through the ARGV lines');
  const times = events.map((e) => e.timeMs);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  const relative = events.find((e) => e.kind === 'access' && e.path === 'ipv6/conf/all/disable_ipv6');
  assert.equal(relative?.kind === 'access' ? relative.resolvedPath : undefined, '/proc/sys/net/ipv6/conf/all/disable_ipv6');
  assert.ok(events.some((e) => e.kind === 'cwd' && e.fd?.path === '/proc/sys/net'));
  const exits = events.flatMap((e) => (e.kind === 'exit' ? [e.exitCode] : []));
  assert.deepEqual(exits, [0, 0, 0, 0, 0, 0, 1, 0]);
});

test('replayed through the engine (with the live filesystem probe, as watch runs): one detection for the script', () => {
  const pipeline = new DetectionPipeline({
    recipes: BUILTIN_RECIPES, sessionId: 'bpf', initialCwd: '/tmp', probe: LIVE_FILE_SYSTEM_PROBE,
    context: { environment: { kind: 'ci', source: 'test' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'bpftrace', version: '0.17.0' } },
  });
  const outputs = replay().flatMap((e) => pipeline.push(e));
  outputs.push(...pipeline.flush());
  const closed = outputs.filter((o) => o.type === 'closed').map((o) => o.detection);
  assert.equal(closed.length, 1);
  const d = closed[0];
  assert.equal(d?.subject.scope, 'process-tree');
  assert.equal(d.subject.process.pid, 9738);
  assert.deepEqual(d.evidence.directories, [
    '/proc/sys/net/core', '/proc/sys/net/ipv4', '/proc/sys/net/ipv4/conf/all', '/proc/sys/net/ipv4/conf/default',
    '/proc/sys/net/ipv6/conf/all', '/proc/sys/net/unix',
  ]);
});

test('limited to a command, processes outside its tree are left out', () => {
  assert.equal(replay({ rootPid: 424242 }).length, 0);
  const events = replay({ rootPid: 9742 });
  assert.ok(events.length > 0);
  assert.ok(events.every((e) => ('tid' in e ? e.tid : e.childTid) === 9742));
});

test('a child whose FORK line comes after its EXEC line (another CPU) is still the command\'s, with its exec', () => {
  const lines = [
    'READY\t1\t1.0\t0\t21',
    'EXEC\t10\t500\t500\t400\t0\t500\t3\tsh\\x00\tsh\t/bin/sh',
    'EXEC\t30\t501\t501\t500\t0\t501\t4\tcat\\x00\tcat\t/bin/cat',
    'FILE\t40\ttracepoint:syscalls:sys_exit_openat\t501\t501\t-100\t0\t3\t17\t/proc/sys/net/core/somaxconn\to\t4\tsomaxconn\tcore\tnet\tsys',
    'FORK\t20\t500\t500\t501\t501\t0\t4100',
  ];
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, rootPid: 500 });
  stream.push(lines[0] ?? '');
  stream.push(lines[1] ?? '');
  stream.push(lines[2] ?? '');
  stream.push(lines[3] ?? '');
  const early = stream.release(35n + 200_000_000n);
  stream.push(lines[4] ?? '');
  const events = [...early, ...stream.release()];
  const kinds = events.map((e) => `${e.kind}:${'tid' in e ? e.tid : e.childTid}`);
  assert.deepEqual(kinds, ['exec:500', 'uid:500', 'fork:501', 'exec:501', 'uid:501', 'access:501']);
});
