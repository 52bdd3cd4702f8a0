import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { DetectionPipeline } from '../../engine/detection-pipeline.ts';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../../recipes/builtin-recipes.ts';
import { LIVE_FILE_SYSTEM_PROBE } from '../live-file-system-probe.ts';
import type { ProcfsReader } from '../procfs-reader.ts';
import { BpfEventStream } from './bpftrace-event-stream.ts';
import { argvFromBytes, decodeBpfBuffer, parseBpfLine, procPathFromNames } from './bpftrace-line-parser.ts';

const FIXTURE = readFileSync(new URL('../../../test/fixtures/bpftrace/shell-loop.bpf', import.meta.url), 'utf8');
/** The recorded shell's pid, and the pid of its `cat ipv6/...` (the fifth process it ran). */
const EXEC_PIDS = FIXTURE.split('\n').filter((l) => l.startsWith('EXEC\t')).map((l) => Number(l.split('\t')[2]));
const SHELL_PID = EXEC_PIDS[0] ?? 0;
const CAT_IPV6_PID = EXEC_PIDS[4] ?? 0;
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
  assert.deepEqual(execs.map((e) => e.argv[0]), ['/bin/sh', 'cat', 'cat', 'cat', 'cat', 'ls', 'stat', 'cat']);
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
  assert.equal(d.subject.process.pid, SHELL_PID);
  assert.deepEqual(d.evidence.directories, [
    '/proc/sys/net/core', '/proc/sys/net/ipv4', '/proc/sys/net/ipv4/conf/all', '/proc/sys/net/ipv4/conf/default',
    '/proc/sys/net/ipv6/conf/all', '/proc/sys/net/unix',
  ]);
});

test('limited to a command, processes outside its tree are left out', () => {
  assert.equal(replay({ rootPid: 424242 }).length, 0);
  const events = replay({ rootPid: CAT_IPV6_PID });
  assert.ok(events.length > 0);
  assert.ok(events.every((e) => ('tid' in e ? e.tid : 'childTid' in e ? e.childTid : undefined) === CAT_IPV6_PID));
});

test('a child whose FORK line comes after its EXEC line (another CPU) is still the command\'s, with its exec', () => {
  const lines = [
    'READY\t1\t1.0\t0\t21',
    'EXEC\t10\t500\t500\t400\t0\t500\t5\t1\t0\t0\t3\tsh\\x00\t1\tsh\t/bin/sh',
    'EXEC\t30\t501\t501\t500\t0\t501\t19\t2\t0\t0\t4\tcat\\x00\t1\tcat\t/bin/cat',
    'FILE\t40\ttracepoint:syscalls:sys_exit_openat\t501\t19\t2\t-100\t0\t3\t17\t/proc/sys/net/core/somaxconn\to\t4\tsomaxconn\tcore\tnet\tsys',
    'FORK\t20\t500\t500\t501\t501\t0\t4100\t5\t1\t1',
  ];
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, rootPid: 500 });
  stream.push(lines[0] ?? '');
  stream.push(lines[1] ?? '');
  stream.push(lines[2] ?? '');
  stream.push(lines[3] ?? '');
  const early = stream.release(35n + 200_000_000n);
  stream.push(lines[4] ?? '');
  const events = [...early, ...stream.release()];
  const kinds = events.map((e) => `${e.kind}:${'tid' in e ? e.tid : 'childTid' in e ? e.childTid : '-'}`);
  assert.deepEqual(kinds, ['exec:500', 'uid:500', 'fork:501', 'exec:501', 'uid:501', 'access:501']);
});

test('no line, however malformed, makes the parser or the stream throw (an empty FORK flags field once did: BigInt("0x"))', () => {
  assert.equal(parseBpfLine('FORK\t20\t500\t500\t501\t501\t0\t\t5\t1\t1')?.type, 'unparsed');
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n });
  stream.push('READY\t1\t1.0\t0\t21\t0');
  stream.push('FORK\t20\t500\t500\t501\t501\t0\t\t5\t1\t1');
  assert.equal(stream.stats.unparsed, 1);
  const events = stream.release();
  assert.deepEqual(events, [{ kind: 'sensor-loss', timeMs: 1e-6, lost: 1 }], 'an unreadable line is a lost event, placed at the newest time seen');
  const real = FIXTURE.split('\n');
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseBpfLine(s)), { numRuns: 2000 });
  // Real lines with one field replaced by anything, fields dropped or doubled.
  fc.assert(
    fc.property(fc.constantFrom(...real), fc.nat(), fc.string({ maxLength: 40 }), fc.integer({ min: -2, max: 2 }), (line, at, text, shift) => {
      const f = line.split('\t');
      const i = at % Math.max(f.length, 1);
      if (shift < 0) f.splice(i, -shift);
      else if (shift > 0) f.splice(i, 0, ...Array<string>(shift).fill(text));
      else f[i] = text;
      const s = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, rootPid: SHELL_PID });
      s.push('READY\t1\t1.0\t0\t21\t0');
      s.push(f.join('\t'));
      s.release();
    }),
    { numRuns: 3000 },
  );
});

test('"Lost N events" reaches the pipeline as a sensor-loss event, in time order', () => {
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n });
  stream.push('READY\t1\t1.0\t0\t21\t0');
  stream.push('TICK\t5000');
  stream.push('Lost 17 events');
  stream.push('TICK\t9000');
  assert.deepEqual(stream.release(), [{ kind: 'sensor-loss', timeMs: 0.005, lost: 17 }]);
  assert.equal(stream.stats.lost, 17);
});

/** The fixture's timed lines, each EXEC with the ARGV lines that follow it (they travel together). */
function fixtureGroups(): string[][] {
  const groups: string[][] = [];
  for (const line of FIXTURE.split('\n')) {
    if (line === '' || line.startsWith('Attaching') || line.startsWith('READY')) continue;
    if (line.startsWith('ARGV')) groups[groups.length - 1]?.push(line);
    else groups.push([line]);
  }
  return groups;
}

/**
 * What the pipeline needs of each process: its fork, then its execs, in order, before any access
 * of theirs; its exit after its execs; and its accesses (a line that came later than every
 * hold may follow the exit, and accesses of one image are a set: their order among themselves
 * does not matter to a detection).
 */
function describeEvents(events: readonly SensorEvent[]): string[] {
  const perPid = new Map<number, { lifecycle: string[]; accesses: string[]; accessBeforeExec: boolean }>();
  const of = (pid: number): { lifecycle: string[]; accesses: string[]; accessBeforeExec: boolean } => {
    let p = perPid.get(pid);
    if (p === undefined) perPid.set(pid, (p = { lifecycle: [], accesses: [], accessBeforeExec: false }));
    return p;
  };
  const execsExpected = new Map<number, number>();
  for (const e of events) if (e.kind === 'exec') execsExpected.set(e.tid, (execsExpected.get(e.tid) ?? 0) + 1);
  for (const e of events) {
    if (e.kind === 'fork') of(e.childTid).lifecycle.push(`fork from ${String(e.parentTid)}`);
    else if (e.kind === 'exec') of(e.tid).lifecycle.push(`exec ${e.argv.join(' ')}`);
    else if (e.kind === 'exit') of(e.tid).lifecycle.push('exit');
    else if (e.kind === 'access') {
      const p = of(e.tid);
      p.accesses.push(`${e.syscall} ${e.resolvedPath ?? e.path ?? ''}`);
      if (p.lifecycle.filter((l) => l.startsWith('exec')).length < (execsExpected.get(e.tid) ?? 0)) p.accessBeforeExec = true;
    }
  }
  return [...perPid.entries()].sort(([a], [b]) => a - b)
    .map(([pid, p]) => `${String(pid)}: ${p.lifecycle.join(' | ')} || ${p.accesses.sort().join(' | ')}${p.accessBeforeExec ? ' (ACCESS BEFORE EXEC)' : ''}`);
}

test('lines delivered in any order across CPUs, released at any time, give each process its fork, exec and accesses in order', () => {
  const groups = fixtureGroups();
  const inOrder = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n });
  inOrder.push(FIXTURE.split('\n').find((l) => l.startsWith('READY')) ?? '');
  for (const g of groups) for (const l of g) inOrder.push(l);
  const expected = describeEvents(inOrder.release());
  assert.ok(expected.length >= 8);
  fc.assert(
    fc.property(fc.array(fc.nat(), { minLength: groups.length, maxLength: groups.length }), fc.array(fc.boolean(), { minLength: groups.length, maxLength: groups.length }), (keys, releases) => {
      // Any permutation: a line of one CPU may come any time after another CPU's later lines.
      const order = groups.map((g, i) => ({ g, key: keys[i] ?? 0 })).sort((a, b) => a.key - b.key).map((x) => x.g);
      const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, holdNs: 1n });
      stream.push(FIXTURE.split('\n').find((l) => l.startsWith('READY')) ?? '');
      const out: SensorEvent[] = [];
      order.forEach((g, i) => {
        for (const l of g) stream.push(l);
        if (releases[i] === true) out.push(...stream.release(10n ** 18n));
      });
      out.push(...stream.release());
      assert.deepEqual(describeEvents(out), expected);
      assert.equal(stream.stats.orphans, 0, 'every FORK and EXEC came, so no process was introduced without one');
    }),
    { numRuns: 300 },
  );
});

test('a recycled pid waits for the FORK of the new process; a line after its process\'s EXIT is still that process\'s', () => {
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 0n, holdNs: 1n, maxHoldNs: 1n });
  const file = (ns: number, pid: number, start: number, exec: number): string =>
    `FILE\t${String(ns)}\ttracepoint:syscalls:sys_exit_openat\t${String(pid)}\t${String(start)}\t${String(exec)}\t-100\t0\t3\t17\t/proc/sys/net/core/somaxconn\to\t4\tsomaxconn\tcore\tnet\tsys`;
  for (const l of [
    'READY\t1\t1.0\t0\t21\t0',
    'FORK\t10\t400\t400\t600\t600\t0\t4100\t0\t3\t1',
    'EXIT\t30\t600\t600\t9\t3\t0\tcat',
    file(20, 600, 9, 3), // came after the EXIT (another CPU): still pid 600 of start 9
    file(50, 600, 45, 1), // a new process 600 (started at 45): its FORK line is still on its way
  ]) stream.push(l);
  const first = stream.release(10n ** 18n);
  assert.deepEqual(first.filter((e) => e.kind === 'access').map((e) => e.timeMs), [20e-6]);
  assert.equal(stream.stats.late, 0);
  stream.push('FORK\t46\t700\t700\t600\t600\t0\t4100\t0\t1\t1');
  const second = stream.release();
  assert.deepEqual(second.flatMap((e) => (e.kind === 'fork' ? [`${String(e.parentTid)}>${String(e.childTid)}`] : [])), ['700>600']);
  assert.deepEqual(second.filter((e) => e.kind === 'access').map((e) => e.timeMs), [50e-6]);
  assert.equal(stream.stats.orphans, 0);
});

test('/proc is read once per unknown process, and not at all for a child whose FORK is on its way', () => {
  const reads = new Map<number, number>();
  const counting: ProcfsReader = { ...EMPTY_PROCFS, facts: (pid) => { reads.set(pid, (reads.get(pid) ?? 0) + 1); return undefined; } };
  const stream = new BpfEventStream({ procfs: counting, offsetNs: 0n });
  // The recording, every FILE line of it pushed 200 times: what a busy process sends within one hold.
  for (const line of FIXTURE.split('\n')) {
    const times = line.startsWith('FILE\t') ? 200 : 1;
    for (let i = 0; i < times; i++) stream.push(line);
  }
  stream.release();
  const files = FIXTURE.split('\n').filter((l) => l.startsWith('FILE\t')).length;
  const total = [...reads.values()].reduce((a, b) => a + b, 0);
  assert.ok(files > 10, 'the recording has FILE lines');
  // EXEC lines read /proc themselves (the image just run); FILE lines at most once per process.
  for (const [pid, n] of reads) assert.ok(n <= 2, `pid ${String(pid)} read ${String(n)} times`);
  assert.ok(total < files, `${String(total)} reads for ${String(files * 200)} FILE lines`);
});

test('the kernel\'s cgroup of each EXEC and process FORK is told on arrival (times in Unix ms), before the line is applied; threads and 0 ids are not', () => {
  const seen: unknown[] = [];
  const stream = new BpfEventStream({ procfs: EMPTY_PROCFS, offsetNs: 1_000_000_000n, cgroup: (c) => { seen.push(c); } });
  stream.push('READY\t1\t1.0\t0\t21');
  stream.push('FORK\t2000000\t400\t400\t500\t500\t0\t4100\t5\t1\t3787');
  stream.push('FORK\t2000000\t400\t401\t402\t400\t1\t4100\t5\t1\t3787');
  stream.push('EXEC\t3000000\t500\t500\t400\t0\t500\t1500000\t2\t0\t0\t3\tsh\\x00\t3788\tsh\t/bin/sh');
  stream.push('EXEC\t4000000\t600\t600\t400\t0\t600\t3500000\t2\t0\t0\t3\tsh\\x00\t0\tsh\t/bin/sh');
  assert.deepEqual(seen, [
    { pid: 500, startMs: 1002, atMs: 1002, id: 3787n, exec: false },
    { pid: 500, startMs: 1001.5, atMs: 1003, id: 3788n, exec: true },
  ]);
  const decoder = [{ type: 'exec', ns: 5_000_000n, tgid: 700, ppid: 1, uid: 0, oldTid: 700, startNs: 4_000_000n, execId: 1, exeDev: 0, exeIno: 0n, comm: 'x', filename: '/x', argLength: 0, argBytes: Buffer.alloc(0), cgroupId: 9n, cgroupLeaf: 'libpod-a', cgroupParent: 'libpod_parent' }] as const;
  for (const r of decoder) stream.pushRecord(r);
  assert.deepEqual(seen[2], { pid: 700, startMs: 1004, atMs: 1005, id: 9n, exec: true, leaf: 'libpod-a', parent: 'libpod_parent' });
});
