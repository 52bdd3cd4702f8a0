import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { StraceLineParser, type StraceRecord, type SyscallRecord } from './strace-line-parser.ts';

const FIXTURES = new URL('../../../test/fixtures/strace/', import.meta.url);

function syscall(r: ReturnType<StraceLineParser['parse']>): SyscallRecord {
  if (r?.type !== 'syscall') assert.fail(`not a syscall record: ${JSON.stringify(r)}`);
  return r;
}

test('a complete call: pid, microsecond time, args, returned fd with its path', () => {
  const r = syscall(new StraceLineParser().parse(
    '1715  1795984469.141938 openat(AT_FDCWD</proc/sys/net>, "core/somaxconn", O_RDONLY) = 3</proc/sys/net/core/somaxconn>',
  ));
  assert.equal(r.tid, 1715);
  assert.equal(r.timeMs, 1795984469141.938);
  assert.equal(r.name, 'openat');
  assert.deepEqual(r.args, ['AT_FDCWD</proc/sys/net>', '"core/somaxconn"', 'O_RDONLY']);
  assert.deepEqual(r.ret, { raw: '3', value: 3, fdPath: '/proc/sys/net/core/somaxconn', errno: undefined });
});

test('a failed call carries its errno', () => {
  const r = syscall(new StraceLineParser().parse(
    '3510  1795984557.018529 readlink("/proc/sys/net", 0x7ffc63a233a0, 1023) = -1 EINVAL (Invalid argument)',
  ));
  assert.equal(r.ret.value, -1);
  assert.equal(r.ret.errno, 'EINVAL');
});

test('"= ?" with padding before "=" (exit_group)', () => {
  const r = syscall(new StraceLineParser().parse('3834  1795984603.219440 exit_group(0)   = ?'));
  assert.equal(r.ret.raw, '?');
  assert.equal(r.ret.value, undefined);
  assert.deepEqual(r.args, ['0']);
});

test('unfinished and resumed halves join per thread, timed at the start', () => {
  const p = new StraceLineParser();
  assert.equal(p.parse('1714  1795984469.135045 vfork( <unfinished ...>'), undefined);
  assert.equal(p.parse('1715  1795984469.135227 execve("/usr/bin/cat", ["cat", "core/somaxconn"], 0x55f52182dd78 /* 35 vars */ <unfinished ...>'), undefined);
  assert.equal(p.pendingCount, 2);
  assert.equal(p.hasPending(new Set(['vfork'])), true);
  const fork = syscall(p.parse('1714  1795984469.135546 <... vfork resumed>) = 1715'));
  assert.equal(fork.tid, 1714);
  assert.equal(fork.timeMs, 1795984469135.045);
  assert.equal(fork.ret.value, 1715);
  const exec = syscall(p.parse('1715  1795984469.135610 <... execve resumed>) = 0'));
  assert.deepEqual(exec.args.slice(0, 2), ['"/usr/bin/cat"', '["cat", "core/somaxconn"]']);
  assert.equal(p.pendingCount, 0);
});

test('resumed output arguments (clone3 "=> {parent_tid=[N]}")', () => {
  const p = new StraceLineParser();
  p.parse('3626  1795984557.223977 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD, child_tid=0x7f7c4883a990} <unfinished ...>');
  const r = syscall(p.parse('3626  1795984557.224056 <... clone3 resumed> => {parent_tid=[3628]}, 88) = 3628'));
  assert.equal(r.ret.value, 3628);
  assert.match(r.args[0] ?? '', /CLONE_THREAD/);
});

test('a resumed half without its start is reported, not invented', () => {
  const r = new StraceLineParser().parse('9  1795984469.1 <... openat resumed>) = 3</x>');
  assert.equal(r?.type, 'unparsed');
});

test('exit, kill and signal lines', () => {
  const p = new StraceLineParser();
  assert.deepEqual(p.parse('1755  1795984475.733494 +++ exited with 4 +++'), { type: 'exited', tid: 1755, timeMs: 1795984475733.494, code: 4 });
  assert.deepEqual(p.parse('3832  1795984603.516947 +++ killed by SIGKILL +++'), { type: 'killed', tid: 3832, timeMs: 1795984603516.947, signal: 'SIGKILL', coreDumped: false });
  assert.equal((p.parse('7  1.5 +++ killed by SIGSEGV (core dumped) +++') as StraceRecord & { coreDumped: boolean }).coreDumped, true);
  assert.equal(p.parse('1714  1795984469.143272 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=1715} ---')?.type, 'signal');
  assert.equal(p.parse('12  1.000001 +++ superseded by execve in pid 10 +++')?.type, 'notice');
});

test('lines without a pid column (strace without -f) and with "[pid N]"', () => {
  const noPid = syscall(new StraceLineParser({ defaultTid: 42 }).parse('1795984469.131423 chdir("/proc/sys/net") = 0'));
  assert.equal(noPid.tid, 42);
  const bracket = syscall(new StraceLineParser().parse('[pid  1234] 1795984469.131423 chdir("/x") = 0'));
  assert.equal(bracket.tid, 1234);
});

test('garbage and cut lines are reported as unparsed, never thrown', () => {
  const p = new StraceLineParser();
  assert.equal(p.parse('strace: Process 1 attached')?.type, 'unparsed');
  assert.equal(p.parse('1715  1795984469.141938 openat(AT_FDCWD</proc/sys/net>, "core/soma')?.type, 'unparsed');
  assert.equal(p.parse('')?.type, 'unparsed');
});

test('a very long line parses', () => {
  const long = 'a'.repeat(200_000);
  const r = syscall(new StraceLineParser().parse(`1  1.000001 openat(AT_FDCWD</>, "/tmp/${long}", O_RDONLY) = -1 ENAMETOOLONG (File name too long)`));
  assert.equal(r.ret.errno, 'ENAMETOOLONG');
  assert.equal(r.args[1]?.length, long.length + 7);
});

test('every line of every recorded fixture parses (the cut last line aside)', () => {
  for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.strace'))) {
    const text = readFileSync(new URL(name, FIXTURES), 'utf8');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (name === 'cut-last-line.strace') lines.pop();
    const p = new StraceLineParser();
    const failures = lines.map((line, i) => ({ i, r: p.parse(line) })).filter(({ r }) => r?.type === 'unparsed');
    assert.deepEqual(failures.map(({ i }) => `${name}:${i + 1}: ${lines[i] ?? ''}`), [], name);
  }
});

test('property: any text is parsed or reported, never thrown', () => {
  const p = new StraceLineParser();
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void p.parse(s)), { numRuns: 2000 });
  fc.assert(
    fc.property(fc.nat(), fc.string({ maxLength: 120 }), (pid, tail) => void p.parse(`${pid}  1795984469.131423 ${tail}`)),
    { numRuns: 2000 },
  );
});

test('a pid returned in another pid namespace, translated by --pidns-translation: the value is the pid in strace\'s namespace', () => {
  const p = new StraceLineParser();
  assert.equal(p.parse('1157  1796088349.601081 vfork( <unfinished ...>'), undefined);
  const r = syscall(p.parse('1157  1796088349.601455 <... vfork resumed>) = 2 /* 1158 in strace\'s PID NS */'));
  assert.equal(r.ret.value, 1158);
  assert.equal(r.ret.nsValue, 2);
  const plain = syscall(new StraceLineParser().parse('1156  1796088349.588328 clone(child_stack=NULL, flags=SIGCHLD) = 1157'));
  assert.equal(plain.ret.value, 1157);
  assert.equal(plain.ret.nsValue, undefined);
});
