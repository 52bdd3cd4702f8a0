// The built-in recipe against real recordings of real programs (test/fixtures/strace/README.md):
// what must fire fires, with the right subject; what must stay silent stays silent.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replayFixture } from './replay-strace-fixture.ts';

interface Expected {
  readonly fixture: string;
  readonly scope: 'process' | 'process-tree';
  readonly comm: string;
  readonly minDirectories: number;
}

const MUST_FIRE: readonly Expected[] = [
  { fixture: 'sysctl-a.strace', scope: 'process', comm: 'sysctl', minDirectories: 30 },
  { fixture: 'sysctl-net.strace', scope: 'process', comm: 'sysctl', minDirectories: 30 },
  { fixture: 'busybox-sysctl-a.strace', scope: 'process', comm: 'busybox', minDirectories: 30 },
  { fixture: 'audit-cat-loop.strace', scope: 'process-tree', comm: 'audit-cat.sh', minDirectories: 3 },
  { fixture: 'audit-subshell.strace', scope: 'process-tree', comm: 'audit-subshell.sh', minDirectories: 3 },
  { fixture: 'audit-bash.strace', scope: 'process-tree', comm: 'audit-bash.sh', minDirectories: 3 },
  { fixture: 'find-walk.strace', scope: 'process', comm: 'find', minDirectories: 30 },
  { fixture: 'find-type-f.strace', scope: 'process', comm: 'find', minDirectories: 30 },
  { fixture: 'ls-R.strace', scope: 'process', comm: 'ls', minDirectories: 30 },
  { fixture: 'three-areas.strace', scope: 'process-tree', comm: 'three-areas.sh', minDirectories: 3 },
  { fixture: 'cut-last-line.strace', scope: 'process-tree', comm: 'three-areas.sh', minDirectories: 3 },
  { fixture: 'setsid-bg.strace', scope: 'process-tree', comm: 'sh', minDirectories: 3 },
  { fixture: 'py-dirfd.strace', scope: 'process', comm: 'python3', minDirectories: 3 },
  { fixture: 'py-threads.strace', scope: 'process', comm: 'python3', minDirectories: 5 },
];

const MUST_STAY_SILENT = [
  'node-listen.strace', 'go-listen.strace', 'redis.strace', 'redis-tcp.strace', 'python-listen.strace', 'java-listen.strace',
  'sysctl-single.strace', 'monitor-loop.strace', 'ifconfig.strace', 'ip-addr.strace', 'ss-s.strace', 'netstat-s.strace',
  'sysctl-w.strace', 'sysctl-p.strace', 'echo-write.strace',
  'evasion-cd.strace', 'evasion-dotdot.strace', 'evasion-selfroot.strace', 'evasion-symlink.strace', 'escapes.strace', 'killed.strace',
];

describe('fires on real fingerprinting', () => {
  for (const e of MUST_FIRE) {
    test(e.fixture, () => {
      const r = replayFixture(e.fixture);
      assert.equal(r.stream.stats.unparsed, 0);
      assert.equal(r.closed.length, 1, r.closed.map((d) => `${d.subject.scope}:${d.subject.process.comm}`).join(', '));
      assert.equal(r.opened.length, 1);
      const d = r.closed[0];
      assert.ok(d);
      assert.equal(d.recipe.id, 'os_network_fingerprint');
      assert.equal(d.subject.scope, e.scope);
      assert.equal(d.subject.process.comm, e.comm);
      assert.ok(d.evidence.directoryCount >= e.minDirectories, `${d.evidence.directoryCount} directories`);
      assert.equal(d.evidence.configurationChanged, false);
      for (const dir of d.evidence.directories) assert.match(dir, /^\/proc\/sys\/net\/[^/]/);
      assert.equal(r.opened[0]?.id, d.id, 'the closed detection is the opened one, with merged evidence');
      assert.ok(d.evidence.accessCount >= r.opened[0].evidence.accessCount);
    });
  }
});

describe('stays silent on benign programs', () => {
  for (const fixture of MUST_STAY_SILENT) {
    test(fixture, () => {
      const r = replayFixture(fixture);
      assert.equal(r.stream.stats.unparsed, 0);
      assert.deepEqual(r.outputs.map((o) => `${o.type} ${o.detection.subject.process.comm}`), []);
    });
  }
});

test('a shell script is one actor: the cats and subshells it forks are members, ancestry ends at the root', () => {
  const d = replayFixture('audit-subshell.strace').closed[0];
  assert.ok(d);
  assert.ok(d.subject.members.length >= 10);
  assert.ok(d.subject.members.every((m) => m.comm === 'cat'));
  assert.deepEqual(d.subject.ancestry, []);
  assert.ok(d.evidence.files.filter((f) => f.counted).length >= 15);
});

test('the setsid child is attributed to its own shell, under the script that started it', () => {
  const d = replayFixture('setsid-bg.strace').closed[0];
  assert.ok(d);
  assert.ok(d.subject.ancestry.length >= 1, 'ancestry reaches the script through the fork lineage');
  assert.deepEqual(d.evidence.directories, ['/proc/sys/net/core', '/proc/sys/net/ipv4', '/proc/sys/net/ipv6/conf/all']);
});

test('writes are evidence of a change but never count: sysctl -w stays silent even though it stats first', () => {
  const r = replayFixture('sysctl-w.strace');
  const writes = r.accesses.filter((a) => a.action === 'write');
  assert.equal(writes.length, 3);
  assert.equal(r.outputs.length, 0);
});

test('evasive spellings are canonical: /proc/self/root, //./.., a symlink, a relative path after cd', () => {
  const target = (name: string) => replayFixture(name).accesses.filter((a) => a.action === 'read').map((a) => a.path);
  assert.deepEqual(target('evasion-selfroot.strace'), ['/proc/sys/net/core/somaxconn']);
  assert.deepEqual(target('evasion-dotdot.strace'), ['/proc/sys/net/ipv4/ip_forward']);
  assert.deepEqual(target('evasion-symlink.strace'), ['/proc/sys/net/core/somaxconn']);
  assert.deepEqual(target('evasion-cd.strace'), ['/proc/sys/net/core/somaxconn']);
  const spelled = replayFixture('evasion-selfroot.strace').accesses.find((a) => a.action === 'read')?.spelled;
  assert.equal(spelled, '/proc/self/root/proc/sys/net/core/somaxconn');
});

test('the threads of one process are one subject', () => {
  const d = replayFixture('py-threads.strace').closed[0];
  assert.ok(d);
  assert.equal(d.subject.members.length, 0);
  assert.equal(d.evidence.directoryCount, 5);
});

test('failed probes (ifconfig looking for ash and econet) are not counted', () => {
  const r = replayFixture('ifconfig.strace');
  const failed = r.accesses.filter((a) => a.error !== undefined);
  assert.ok(failed.some((a) => a.error === 'ENOENT'));
  assert.equal(r.outputs.length, 0);
});

test('guidance is rendered for the environment, with the evidence in it', () => {
  const env = { kind: 'production', source: 'test' } as const;
  const d = replayFixture('sysctl-a.strace', { environment: env }).closed[0];
  assert.ok(d);
  assert.equal(d.guidance.environment, 'production');
  assert.equal(d.guidance.actions.length, 3);
  assert.match(d.guidance.implications, /sysctl -a/);
  assert.doesNotMatch(JSON.stringify(d.guidance), /\{[a-zA-Z]+\}/, 'no placeholder left unfilled');
});
