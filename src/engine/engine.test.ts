import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccessAction, SensorEvent } from '../model/sensor-event.ts';
import type { Recipe, RecipeException } from '../model/recipe.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { DetectionPipeline } from './detection-pipeline.ts';
import type { EngineOutput } from './engine.ts';

const T0 = 1_800_000_000_000;

/** A small scripted world: processes fork, exec and touch paths at given times. */
class World {
  readonly pipeline: DetectionPipeline;
  readonly out: EngineOutput[] = [];

  constructor(options: { closeIdleLive?: boolean; recipes?: readonly Recipe[]; uid?: number } = {}) {
    this.pipeline = new DetectionPipeline({
      recipes: options.recipes ?? BUILTIN_RECIPES,
      sessionId: 's',
      initialCwd: '/work',
      initialUid: options.uid ?? 1000,
      fileCapacity: 8,
      context: { environment: { kind: 'ci', source: 'test' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'test', version: null } },
      ...options,
    });
  }

  push(e: SensorEvent): this {
    this.out.push(...this.pipeline.push(e));
    return this;
  }
  exec(tid: number, t: number, exe: string, ...argv: string[]): this {
    return this.push({ kind: 'exec', timeMs: T0 + t, tid, path: exe, argv: argv.length > 0 ? argv : [exe], argvTruncated: false });
  }
  fork(parent: number, child: number, t: number, thread = false): this {
    return this.push({ kind: 'fork', timeMs: T0 + t, parentTid: parent, childTid: child, thread, sharesFs: thread });
  }
  touch(tid: number, t: number, path: string, action: AccessAction = 'read', extra: { error?: string; isDirectory?: boolean } = {}): this {
    return this.push({ kind: 'access', timeMs: T0 + t, tid, syscall: 'openat', action, path, ...extra });
  }
  exit(tid: number, t: number, exitCode = 0): this {
    return this.push({ kind: 'exit', timeMs: T0 + t, tid, exitCode });
  }
  flush(): this {
    this.out.push(...this.pipeline.flush());
    return this;
  }
  get opened() {
    return this.out.filter((o) => o.type === 'opened').map((o) => o.detection);
  }
  get closed() {
    return this.out.filter((o) => o.type === 'closed').map((o) => o.detection);
  }
}

const CORE = '/proc/sys/net/core/somaxconn';
const IPV4 = '/proc/sys/net/ipv4/ip_forward';
const UNIX = '/proc/sys/net/unix/max_dgram_qlen';
const IPV6 = '/proc/sys/net/ipv6/conf/all/disable_ipv6';

/** A shell (pid 10) that runs one cat per path, 5 ms apart unless told otherwise. */
function catLoop(w: World, paths: readonly string[], gapMs = 5, firstPid = 20): World {
  w.exec(10, 0, '/bin/sh', 'sh', 'audit.sh');
  paths.forEach((p, i) => {
    const pid = firstPid + i;
    const t = 1 + i * gapMs;
    w.fork(10, pid, t).exec(pid, t, '/bin/cat', 'cat', p).touch(pid, t, p).exit(pid, t);
  });
  return w;
}

describe('breadth', () => {
  test('one process reading three directories fires once, at the third', () => {
    const w = new World().exec(1, 0, '/usr/sbin/sysctl', 'sysctl', '-a').touch(1, 1, CORE).touch(1, 2, IPV4);
    assert.equal(w.opened.length, 0);
    w.touch(1, 3, UNIX).touch(1, 4, IPV6).flush();
    assert.equal(w.opened.length, 1);
    assert.equal(w.opened[0]?.evidence.directoryCount, 3);
    assert.equal(w.closed.length, 1);
    assert.equal(w.closed[0]?.evidence.directoryCount, 4, 'later evidence is merged into the same detection');
    assert.equal(w.closed[0].subject.scope, 'process');
  });

  test('two directories are not enough', () => {
    const w = new World().exec(1, 0, '/agent').touch(1, 1, CORE).touch(1, 2, IPV4).touch(1, 3, CORE).flush();
    assert.equal(w.out.length, 0);
  });

  test('the root /proc/sys/net itself never counts, listed or not', () => {
    const w = new World().exec(1, 0, '/bin/ls', 'ls').touch(1, 1, '/proc/sys/net', 'list', { isDirectory: true })
      .touch(1, 2, '/proc/sys/net/nf_conntrack_max').touch(1, 3, CORE).touch(1, 4, IPV4).flush();
    assert.equal(w.out.length, 0);
  });

  test('a listed or stat-ed directory counts for itself', () => {
    const w = new World().exec(1, 0, '/bin/ls', 'ls')
      .touch(1, 1, '/proc/sys/net/core', 'list', { isDirectory: true })
      .touch(1, 2, '/proc/sys/net/ipv4', 'stat', { isDirectory: true })
      .touch(1, 3, '/proc/sys/net/ipv6', 'read', { isDirectory: true }).flush();
    assert.deepEqual(w.closed[0]?.evidence.directories, ['/proc/sys/net/core', '/proc/sys/net/ipv4', '/proc/sys/net/ipv6']);
  });

  test('failed probes of missing paths are evidence only', () => {
    const w = new World().exec(1, 0, '/sbin/ifconfig')
      .touch(1, 1, '/proc/sys/net/ash/x', 'read', { error: 'ENOENT' })
      .touch(1, 2, '/proc/sys/net/econet/y', 'stat', { error: 'ENOENT' })
      .touch(1, 3, '/proc/sys/net/core/x', 'readlink', { error: 'EINVAL' })
      .touch(1, 4, CORE).touch(1, 5, IPV4).flush();
    assert.equal(w.out.length, 0);
  });

  test('a permission error still counts: the setting exists and was tried', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE, 'read', { error: 'EACCES' }).touch(1, 2, IPV4).touch(1, 3, UNIX).flush();
    assert.equal(w.closed.length, 1);
  });
});

describe('writes', () => {
  test('stat-then-write of each setting (sysctl -w) does not add up', () => {
    const w = new World().exec(1, 0, '/usr/sbin/sysctl', 'sysctl', '-w');
    [CORE, IPV4, IPV6].forEach((p, i) => w.touch(1, i * 2, p, 'stat').touch(1, i * 2 + 1, p, 'write'));
    w.flush();
    assert.equal(w.out.length, 0);
  });

  test('on a read-only /proc/sys the write fails (EROFS), and the stats are still withdrawn (sysctl -p in a container)', () => {
    const w = new World().exec(1, 0, '/usr/sbin/sysctl', 'sysctl', '-p');
    [CORE, IPV4, IPV6].forEach((p, i) => w.touch(1, i * 2, p, 'stat').touch(1, i * 2 + 1, p, 'write', { error: 'EROFS' }));
    w.flush();
    assert.equal(w.out.length, 0);
  });

    test('a write-open refused for another reason (EISDIR on a directory, EACCES) withdraws nothing', () => {
    const dirs = ['/proc/sys/net/ipv4/conf/lo', '/proc/sys/net/ipv4/conf/eth0', '/proc/sys/net/ipv4/conf/eth1'];
    const w = new World().exec(1, 0, '/x');
    dirs.forEach((d, i) => w.touch(1, i * 2, d, 'stat', { isDirectory: true }).touch(1, i * 2 + 1, d, 'write', { error: 'EISDIR' }));
    assert.equal(w.flush().closed.length, 1);
    const v = new World().exec(1, 0, '/x');
    [CORE, IPV4, IPV6].forEach((p, i) => v.touch(1, i * 2, p, 'stat').touch(1, i * 2 + 1, p, 'write', { error: 'EACCES' }));
    assert.equal(v.flush().closed.length, 1);
  });

    test('without the writes, the same stats fire', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE, 'stat').touch(1, 2, IPV4, 'stat').touch(1, 3, IPV6, 'stat').flush();
    assert.equal(w.closed.length, 1);
  });

  test('a read is not withdrawn by a later write, and the write marks a configuration change', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE).touch(1, 2, CORE, 'write').touch(1, 3, IPV4).touch(1, 4, UNIX).flush();
    assert.equal(w.closed.length, 1);
    assert.equal(w.closed[0]?.evidence.configurationChanged, true);
  });

  test('O_RDWR opens read: they count, and change the configuration', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE, 'readwrite').touch(1, 2, IPV4, 'readwrite').touch(1, 3, UNIX, 'readwrite').flush();
    assert.equal(w.closed.length, 1);
    assert.equal(w.closed[0]?.evidence.configurationChanged, true);
  });
});

describe('process trees', () => {
  test('a shell running one cat per setting is one actor', () => {
    const w = catLoop(new World(), [CORE, IPV4, UNIX]).flush();
    assert.equal(w.closed.length, 1);
    const d = w.closed[0];
    assert.equal(d?.subject.scope, 'process-tree');
    assert.equal(d.subject.process.pid, 10);
    assert.deepEqual(d.subject.members.map((m) => m.pid), [20, 21, 22]);
  });

  test('children spread wider than the tree window do not add up', () => {
    const w = catLoop(new World(), [CORE, IPV4, UNIX], 6_000).flush();
    assert.equal(w.out.length, 0);
  });

  test('a forked subshell that did not exec is its parent (x=$(cat f))', () => {
    const w = new World().exec(10, 0, '/bin/sh', 'sh', 's.sh');
    [CORE, IPV4, UNIX].forEach((p, i) => {
      const sub = 20 + i * 2;
      w.fork(10, sub, i).fork(sub, sub + 1, i).exec(sub + 1, i, '/bin/cat', 'cat', p).touch(sub + 1, i, p).exit(sub + 1, i).exit(sub, i);
    });
    w.flush();
    assert.equal(w.closed[0]?.subject.process.pid, 10);
  });

  test('a subshell reading by itself (no exec) counts as its parent process', () => {
    const w = new World().exec(10, 0, '/bin/bash', 'bash', 's.sh');
    [CORE, IPV4, UNIX].forEach((p, i) => w.fork(10, 20 + i, i).touch(20 + i, i, p).exit(20 + i, i));
    w.flush();
    assert.equal(w.closed.length, 1);
    assert.equal(w.closed[0]?.subject.scope, 'process');
    assert.equal(w.closed[0].subject.process.pid, 10);
  });

  test('threads belong to their process', () => {
    const w = new World().exec(1, 0, '/usr/bin/python3', 'python3', 'r.py').fork(1, 2, 1, true).fork(1, 3, 1, true);
    w.touch(2, 2, CORE).touch(3, 3, IPV4).touch(1, 4, UNIX).flush();
    assert.equal(w.closed[0]?.subject.scope, 'process');
    assert.equal(w.closed[0].subject.process.pid, 1);
  });

  test('a child that fires on its own is not counted again in its parent', () => {
    const w = new World().exec(10, 0, '/bin/sh', 'sh');
    w.fork(10, 11, 1).exec(11, 1, '/usr/sbin/sysctl', 'sysctl', '-a').touch(11, 2, CORE).touch(11, 3, IPV4).touch(11, 4, UNIX).exit(11, 5);
    w.fork(10, 12, 6).exec(12, 6, '/bin/cat', 'cat').touch(12, 7, IPV6).exit(12, 8).flush();
    assert.deepEqual(w.closed.map((d) => `${d.subject.scope}:${d.subject.process.pid}`), ['process:11']);
  });

  test('evidence after a tree fired merges into it rather than opening a second detection', () => {
    const w = catLoop(new World(), [CORE, IPV4, UNIX]);
    w.fork(10, 40, 50).exec(40, 50, '/usr/sbin/sysctl', 'sysctl', '-a').touch(40, 51, IPV6).touch(40, 52, '/proc/sys/net/bridge/x').touch(40, 53, '/proc/sys/net/mptcp/y').flush();
    assert.equal(w.opened.length, 1);
    assert.equal(w.closed[0]?.evidence.directoryCount, 6);
    assert.ok(w.closed[0].subject.members.some((m) => m.pid === 40));
  });

  test('ancestry runs from the parent up to the monitored root', () => {
    const w = new World().exec(1, 0, '/usr/bin/npm', 'npm', 'test').fork(1, 2, 1).exec(2, 1, '/bin/sh', 'sh', '-c', 'node t.js');
    w.fork(2, 3, 2).exec(3, 2, '/usr/bin/node', 'node', 't.js').touch(3, 3, CORE).touch(3, 4, IPV4).touch(3, 5, UNIX).flush();
    assert.deepEqual(w.closed[0]?.subject.ancestry.map((a) => a.pid), [2, 1]);
    assert.equal(w.closed[0].subject.process.uid, 1000);
    assert.equal(w.closed[0].subject.process.cwd, '/work');
  });
});

describe('sibling scripts under one parent (xargs -P)', () => {
  /** xargs (pid 10) runs scripts 100+i in parallel; script i forks cats that each read one area, interleaved. */
  function parallelScripts(w: World, scripts: number, exitScripts = true): World {
    w.exec(10, 0, '/usr/bin/xargs', 'xargs', '-P', '10', '/tmp/c.sh');
    const paths = [CORE, IPV4, UNIX];
    for (let i = 0; i < scripts; i++) w.fork(10, 100 + i, 1 + i).exec(100 + i, 1 + i, '/tmp/c.sh', 'bash', '/tmp/c.sh', `c${String(i)}`);
    // Round-robin: the first area of every script, then the second... so the parent sees three areas long before any script does.
    for (let k = 0; k < paths.length; k++) {
      for (let i = 0; i < scripts; i++) {
        const cat = 1000 + i * 10 + k;
        const t = 10 + k * scripts + i;
        w.fork(100 + i, cat, t).exec(cat, t, '/bin/cat', 'cat', paths[k] ?? CORE).touch(cat, t, paths[k] ?? CORE).exit(cat, t);
      }
    }
    if (exitScripts) for (let i = 0; i < scripts; i++) w.exit(100 + i, 100 + i);
    return w;
  }

  test('each script is its own detection, the parent none, however their reads interleave', () => {
    const w = parallelScripts(new World(), 5).flush();
    assert.equal(w.closed.length, 5);
    assert.deepEqual(w.closed.map((d) => d.subject.process.pid).sort(), [100, 101, 102, 103, 104]);
    assert.ok(w.closed.every((d) => d.evidence.accessCount === 3 && d.subject.members.length === 3));
  });

  test('scripts that each read one area still add up to their parent, once they have ended', () => {
    const w = new World().exec(10, 0, '/bin/sh', 'sh', 'outer.sh');
    const paths = [CORE, IPV4, UNIX];
    paths.forEach((p, i) => {
      const script = 100 + i;
      w.fork(10, script, 1 + i).exec(script, 1 + i, '/bin/sh', 'sh', '-c', `cat ${p}; true`);
      w.fork(script, 200 + i, 2 + i).exec(200 + i, 2 + i, '/bin/cat', 'cat', p).touch(200 + i, 2 + i, p).exit(200 + i, 2 + i);
    });
    assert.equal(w.opened.length, 0, 'waits while the scripts run: each might still fire on its own');
    paths.forEach((_, i) => w.exit(100 + i, 20 + i));
    assert.equal(w.opened.length, 1, 'fires once the last of them ended');
    assert.equal(w.opened[0]?.subject.process.pid, 10);
    assert.equal(w.opened[0].evidence.directoryCount, 3);
  });
});

describe('a waiting tree cannot be slid out of its window', () => {
  test('a child kept alive past the window and one late read do not hide what the tree had counted', () => {
    const w = new World().exec(10, 0, '/bin/sh', 'sh', 'evade.sh');
    w.fork(10, 11, 1).exec(11, 1, '/bin/cat', 'cat', CORE).touch(11, 1, CORE).exit(11, 1);
    w.fork(10, 12, 2).exec(12, 2, '/bin/cat', 'cat', IPV4).touch(12, 2, IPV4).exit(12, 2);
    // A child script reads the third area and stays alive (sleep 600): the tree waits for it.
    w.fork(10, 13, 3).exec(13, 3, '/bin/sh', 'sh', '-c', `cat ${UNIX}; sleep 600`);
    w.fork(13, 14, 3).exec(14, 3, '/bin/cat', 'cat', UNIX).touch(14, 3, UNIX).exit(14, 3);
    assert.equal(w.opened.length, 0);
    // Just before the wait ends, one more read: the window would now start after the first two.
    w.fork(10, 15, 10_002.5).exec(15, 10_002.5, '/bin/cat', 'cat', CORE).touch(15, 10_002.5, CORE).exit(15, 10_002.5);
    w.exec(16, 10_004, '/bin/true', 'true').exit(16, 10_004);
    assert.equal(w.opened.length, 1, 'the tree fires once its wait ends');
    assert.equal(w.opened[0]?.subject.process.pid, 10);
    assert.ok(w.opened[0].evidence.directoryCount >= 3);
  });
});

describe('sensor loss', () => {
  test('a detection whose subject lived through lost events or a sensor gap says its evidence may be incomplete', () => {
    const w = new World().exec(1, 0, '/usr/sbin/sysctl', 'sysctl', '-a');
    w.push({ kind: 'sensor-loss', timeMs: T0 + 1, lost: 7 });
    w.touch(1, 2, CORE).touch(1, 3, IPV4).touch(1, 4, UNIX).exit(1, 5);
    w.exec(2, 10_000, '/usr/sbin/sysctl', 'sysctl', '-a').touch(2, 10_001, CORE).touch(2, 10_002, IPV4).touch(2, 10_003, UNIX).exit(2, 10_004);
    w.push({ kind: 'sensor-loss', timeMs: T0 + 20_000, lost: 0, gap: { startMs: T0 + 20_000, endMs: T0 + 21_000 } });
    w.exec(3, 20_500, '/usr/sbin/sysctl', 'sysctl', '-a').touch(3, 21_001, CORE).touch(3, 21_002, IPV4).touch(3, 21_003, UNIX).flush();
    const byPid = new Map(w.closed.map((d) => [d.subject.process.pid, d.sensor]));
    assert.deepEqual(byPid.get(1), { name: 'test', version: null, eventsLost: 7, gaps: [], complete: false });
    assert.deepEqual(byPid.get(2), { name: 'test', version: null, eventsLost: 0, gaps: [], complete: true }, 'losses before it started are not its own');
    assert.equal(byPid.get(3)?.complete, false);
    assert.deepEqual(byPid.get(3)?.gaps, [{ start: new Date(T0 + 20_000).toISOString(), end: new Date(T0 + 21_000).toISOString() }]);
  });
});

describe('host-wide', () => {
  test('init (pid 1) is never a tree subject: unrelated daemons do not add up, and a later reader still fires', () => {
    const w = new World().exec(1, 0, '/sbin/init', 'init');
    [CORE, IPV4, UNIX].forEach((p, i) => {
      const pid = 100 + i;
      w.fork(1, pid, i).exec(pid, i, `/usr/sbin/daemon${i}`).touch(pid, 1000 * i, p);
    });
    assert.equal(w.opened.length, 0);
    w.fork(1, 200, 3000).exec(200, 3000, '/tmp/implant').touch(200, 3001, CORE).touch(200, 3002, IPV4).touch(200, 3003, UNIX).flush();
    assert.deepEqual(w.closed.map((d) => `${d.subject.scope}:${d.subject.process.pid}`), ['process:200']);
  });
});

describe('lifecycle', () => {
  test('a detection closes once its subject has exited and a window passed without evidence', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE).touch(1, 2, IPV4).touch(1, 3, UNIX).exit(1, 4, 3);
    assert.equal(w.closed.length, 0, 'a fork left running could still add evidence');
    w.out.push(...w.pipeline.engine.tick(T0 + 30_000));
    assert.equal(w.closed.length, 0);
    w.out.push(...w.pipeline.engine.tick(T0 + 61_000));
    assert.equal(w.closed.length, 1);
    assert.deepEqual(w.closed[0]?.subject.process.exit, { time: new Date(T0 + 4).toISOString(), code: 3, signal: null });
    w.flush();
    assert.equal(w.closed.length, 1, 'flush does not close it twice');
  });

  test('with closeIdleLive (watch), a quiet live subject is reported, and a later burst is a new detection', () => {
    const w = new World({ closeIdleLive: true }).exec(1, 0, '/usr/sbin/agent').touch(1, 1, CORE).touch(1, 2, IPV4).touch(1, 3, UNIX);
    w.out.push(...w.pipeline.engine.tick(T0 + 61_000));
    assert.equal(w.closed.length, 1);
    w.touch(1, 120_000, CORE).touch(1, 120_001, IPV4).touch(1, 120_002, UNIX).flush();
    assert.equal(w.opened.length, 2);
    assert.equal(w.closed.length, 2);
    assert.notEqual(w.closed[0]?.id, w.closed[1]?.id);
  });

  test('a live subject stays open however quiet it is, until the end', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, CORE).touch(1, 2, IPV4).touch(1, 3, UNIX);
    w.out.push(...w.pipeline.engine.tick(T0 + 3_600_000));
    assert.equal(w.closed.length, 0);
    w.flush();
    assert.equal(w.closed.length, 1);
  });

  test('a subshell left in the background by a script that exited still counts for the script', () => {
    const w = new World().exec(10, 0, '/bin/sh', 'sh', 'install.sh').fork(10, 11, 1).exit(10, 2);
    [CORE, IPV4, UNIX].forEach((p, i) => {
      const pid = 20 + i;
      w.fork(11, pid, 100 + i).exec(pid, 100 + i, '/bin/cat', 'cat', p).touch(pid, 100 + i, p).exit(pid, 100 + i);
    });
    w.flush();
    assert.deepEqual(w.closed.map((d) => `${d.subject.scope}:${d.subject.process.pid}`), ['process-tree:10']);
  });

  test('a recycled pid is a new subject', () => {
    const w = new World().exec(1, 0, '/bin/sh', 'sh');
    w.fork(1, 5, 1).exec(5, 1, '/a').touch(5, 2, CORE).touch(5, 3, IPV4).touch(5, 4, UNIX).exit(5, 5);
    w.fork(1, 5, 100).exec(5, 100, '/b').touch(5, 101, CORE).touch(5, 102, IPV4).touch(5, 103, UNIX).exit(5, 104).flush();
    assert.deepEqual(w.closed.map((d) => d.subject.process.exe), ['/a', '/b']);
  });

  test('evidence lists are bounded and say how much was left out', () => {
    const w = new World().exec(1, 0, '/usr/sbin/sysctl');
    for (let i = 0; i < 20; i++) w.touch(1, i, `/proc/sys/net/d${i % 5}/f${i}`);
    w.flush();
    const e = w.closed[0]?.evidence;
    assert.equal(e?.files.length, 8);
    assert.equal(e.filesOmitted, 12);
    assert.equal(e.directoryCount, 5);
    assert.equal(e.accessCount, 20);
  });

  test('accesses outside /proc/sys/net never reach the engine', () => {
    const w = new World().exec(1, 0, '/x').touch(1, 1, '/proc/sys/kernel/a/b').touch(1, 2, '/proc/sys/fs/c/d').touch(1, 3, '/proc/sys/vm/e/f').flush();
    assert.equal(w.out.length, 0);
  });
});

const BUILTIN = BUILTIN_RECIPES[0] as Recipe;

function exception(fields: Partial<RecipeException>): RecipeException {
  return { name: 'x', reason: 'r', exe: [], argv: undefined, parentExe: [], ancestorExe: [], uid: [], container: [], environment: [], origin: 't:1', ...fields };
}

function withChanges(changes: Partial<Recipe>): Recipe {
  return { ...BUILTIN, ...changes };
}

void describe('engine: exceptions, limits and recipe options', () => {
  void test('an exception anchored on exe and parent exe silences that process only', () => {
    const recipe = withChanges({ exceptions: [exception({ exe: ['/usr/sbin/sysctl'], parentExe: ['/usr/lib/systemd/systemd'] })] });
    const run = (parentExe: string): World => new World({ recipes: [recipe] })
      .exec(5, 0, parentExe).fork(5, 6, 1).exec(6, 2, '/usr/sbin/sysctl', 'sysctl', '-a')
      .touch(6, 3, CORE).touch(6, 4, IPV4).touch(6, 5, UNIX).exit(6, 6).flush();
    assert.equal(run('/usr/lib/systemd/systemd').opened.length, 0);
    assert.equal(run('/usr/bin/bash').opened.length, 1, 'another parent is not excepted');
  });

  void test('excepted accesses do not add up in the ancestors\' tree either', () => {
    const recipe = withChanges({ exceptions: [exception({ exe: ['/usr/sbin/sysctl'] })] });
    const w = new World({ recipes: [recipe] }).exec(10, 0, '/bin/sh', 'sh', 'audit.sh');
    let t = 1;
    for (const [pid, path] of [[11, CORE], [12, IPV4], [13, UNIX]] as const) {
      w.fork(10, pid, t++).exec(pid, t++, '/usr/sbin/sysctl', 'sysctl', path).touch(pid, t++, path).exit(pid, t++);
    }
    assert.equal(w.flush().opened.length, 0);
    assert.equal(w.pipeline.engine.exceptionHits.get('os_network_fingerprint: x'), 3);
  });

  void test('argv is matched as a shell would quote it: one argument with a space is not two', () => {
    const recipe = withChanges({ exceptions: [exception({ exe: ['/usr/bin/python3'], argv: 'python3 /opt/audit\\.py' })] });
    const run = (argv: string[]): number => {
      const world = new World({ recipes: [recipe] });
      world.push({ kind: 'exec', timeMs: T0, tid: 6, path: '/usr/bin/python3', argv, argvTruncated: false });
      return world.touch(6, 1, CORE).touch(6, 2, IPV4).touch(6, 3, UNIX).flush().opened.length;
    };
    assert.equal(run(['python3', '/opt/audit.py']), 0);
    assert.equal(run(['python3 /opt/audit.py']), 1, 'exec -a "python3 /opt/audit.py" python3 < evil.py');
  });

  void test('argv exceptions match the whole command line; a cut argv never matches', () => {
    const recipe = withChanges({ exceptions: [exception({ exe: ['/usr/sbin/sysctl'], argv: 'sysctl -a' })] });
    const w = (argv: string[], truncated = false): number => {
      const world = new World({ recipes: [recipe] });
      world.push({ kind: 'exec', timeMs: T0, tid: 6, path: '/usr/sbin/sysctl', argv, argvTruncated: truncated });
      return world.touch(6, 1, CORE).touch(6, 2, IPV4).touch(6, 3, UNIX).flush().opened.length;
    };
    assert.equal(w(['sysctl', '-a']), 0);
    assert.equal(w(['sysctl', '-a', '--evil']), 1);
    assert.equal(w(['sysctl', '-a'], true), 1);
  });

  void test('a parent that forks the reader and then execs an excepted program is judged by the image that forked', () => {
    const recipe = withChanges({ exceptions: [exception({ parentExe: ['/usr/local/bin/nightly-audit'] })] });
    const ancestor = withChanges({ exceptions: [exception({ ancestorExe: ['/usr/local/bin/nightly-audit'] })] });
    for (const r of [recipe, ancestor]) {
      // /tmp/evil forks the reader, then becomes nightly-audit (exec) before the reader reads.
      const w = new World({ recipes: [r] })
        .exec(5, 0, '/tmp/evil').fork(5, 6, 1).exec(5, 2, '/usr/local/bin/nightly-audit')
        .touch(6, 3, CORE).touch(6, 4, IPV4).touch(6, 5, UNIX).flush();
      assert.equal(w.opened.length, 1, 'the reader was forked by /tmp/evil');
    }
    // The genuine program forking a reader is still excepted.
    const honest = new World({ recipes: [ancestor] })
      .exec(5, 0, '/usr/local/bin/nightly-audit').fork(5, 6, 1).exec(6, 2, '/bin/sh').fork(6, 7, 3).exec(7, 4, '/usr/sbin/sysctl')
      .touch(7, 5, CORE).touch(7, 6, IPV4).touch(7, 7, UNIX).flush();
    assert.equal(honest.opened.length, 0);
  });

  void test('a parent pid reused by an excepted program is not the parent', () => {
    const recipe = withChanges({ exceptions: [exception({ parentExe: ['/usr/local/bin/nightly-audit'] })] });
    const w = new World({ recipes: [recipe] })
      .exec(5, 0, '/tmp/evil').fork(5, 6, 1).exit(5, 2)
      .fork(9, 5, 3).exec(5, 4, '/usr/local/bin/nightly-audit')
      .touch(6, 5, CORE).touch(6, 6, IPV4).touch(6, 7, UNIX).flush();
    assert.equal(w.opened.length, 1);
    const honest = new World({ recipes: [recipe] })
      .exec(5, 0, '/usr/local/bin/nightly-audit').fork(5, 6, 1).exec(6, 2, '/usr/sbin/sysctl')
      .touch(6, 5, CORE).touch(6, 6, IPV4).touch(6, 7, UNIX).flush();
    assert.equal(honest.opened.length, 0);
  });

    void test('an environment-limited exception holds only there', () => {
    const recipe = withChanges({ exceptions: [exception({ exe: ['/usr/sbin/sysctl'], environment: ['production'] })] });
    const w = new World({ recipes: [recipe] }).exec(6, 0, '/usr/sbin/sysctl').touch(6, 1, CORE).touch(6, 2, IPV4).touch(6, 3, UNIX).flush();
    assert.equal(w.opened.length, 1, 'the world is ci');
  });

  void test('per_exe limits how many detections one executable raises; the rest are counted as suppressed', () => {
    const recipe = withChanges({ limits: { perProcess: undefined, perExe: 1, perAncestry: undefined, perHost: undefined }, aggregate: { ...BUILTIN.aggregate, scopes: [{ scope: 'process', windowMs: 60_000 }] } });
    const w = new World({ recipes: [recipe] });
    for (const pid of [21, 22, 23]) w.exec(pid, pid, '/usr/sbin/sysctl').touch(pid, pid + 1, CORE).touch(pid, pid + 2, IPV4).touch(pid, pid + 3, UNIX).exit(pid, pid + 4);
    w.flush();
    assert.equal(w.opened.length, 1);
    assert.equal(w.pipeline.engine.suppressed.get('os_network_fingerprint per_exe'), 2);
  });

  void test('count: files counts distinct files; include and exclude decide what counts', () => {
    const recipe = withChanges({
      aggregate: { ...BUILTIN.aggregate, count: 'files' },
      match: { ...BUILTIN.match, include: [{ kind: 'glob', value: '/proc/sys/net/ipv4/**' }], exclude: [{ kind: 'regex', value: '.*/ip_forward' }] },
    });
    const w = new World({ recipes: [recipe] }).exec(6, 0, '/usr/bin/python3')
      .touch(6, 1, '/proc/sys/net/ipv4/ip_forward').touch(6, 2, CORE).touch(6, 3, '/proc/sys/net/ipv4/tcp_syncookies')
      .touch(6, 4, '/proc/sys/net/ipv4/tcp_fin_timeout');
    assert.equal(w.opened.length, 0, 'excluded and not-included files do not count');
    w.touch(6, 5, '/proc/sys/net/ipv4/tcp_rmem').flush();
    assert.equal(w.opened.length, 1);
    assert.equal(w.closed[0]?.evidence.unit, 'files');
  });

  void test('writes: count makes a write count toward breadth', () => {
    const recipe = withChanges({ match: { ...BUILTIN.match, writes: 'count' } });
    const w = new World({ recipes: [recipe] }).exec(6, 0, '/usr/bin/tee').touch(6, 1, CORE, 'write').touch(6, 2, IPV4, 'write').touch(6, 3, UNIX, 'write').flush();
    assert.equal(w.opened.length, 1);
    assert.equal(new World().exec(6, 0, '/usr/bin/tee').touch(6, 1, CORE, 'write').touch(6, 2, IPV4, 'write').touch(6, 3, UNIX, 'write').flush().opened.length, 0);
  });

  void test('replaceRecipes closes open detections and runs the new set', () => {
    const w = new World().exec(6, 0, '/usr/bin/cat').touch(6, 1, CORE).touch(6, 2, IPV4).touch(6, 3, UNIX);
    assert.equal(w.opened.length, 1);
    const closed = w.pipeline.replaceRecipes([withChanges({ exceptions: [exception({ exe: ['/usr/bin/cat'] })] })]);
    assert.equal(closed.length, 1);
    w.exec(7, 10, '/usr/bin/cat').touch(7, 11, CORE).touch(7, 12, IPV4).touch(7, 13, UNIX).flush();
    assert.equal(w.opened.length, 1, 'the excepted cat no longer fires');
  });
});

void describe('engine: the built-in default exceptions', () => {
  const sysctlRun = (parentExe: string, argv: string[], uid = 0): World => new World({ uid })
    .exec(1, 0, parentExe).fork(1, 50, 1).exec(50, 2, '/usr/lib/systemd/systemd-sysctl', ...argv)
    .touch(50, 3, CORE, 'readwrite').touch(50, 4, IPV4, 'readwrite').touch(50, 5, IPV6, 'readwrite').exit(50, 6).flush();

  void test('systemd-sysctl started by systemd at boot is excepted', () => {
    assert.equal(sysctlRun('/usr/lib/systemd/systemd', ['/lib/systemd/systemd-sysctl']).opened.length, 0);
  });

  void test('...but not as another user (systemd --user can start it too)', () => {
    assert.equal(sysctlRun('/usr/lib/systemd/systemd', ['/lib/systemd/systemd-sysctl'], 1000).opened.length, 1);
  });

  void test('the same binary started by a shell, or with a configuration file of its caller\'s choosing, is not', () => {
    assert.equal(sysctlRun('/usr/bin/bash', ['/lib/systemd/systemd-sysctl']).opened.length, 1);
    assert.equal(sysctlRun('/usr/lib/systemd/systemd', ['/lib/systemd/systemd-sysctl', '/tmp/x.conf']).opened.length, 1);
  });

  void test('udev\'s per-interface run is excepted only with its --prefix arguments', () => {
    assert.equal(sysctlRun('/usr/bin/udevadm', ['/lib/systemd/systemd-sysctl', '--prefix=/net/ipv4/conf/veth1', '--prefix=/net/ipv6/conf/veth1']).opened.length, 0);
    assert.equal(sysctlRun('/usr/bin/udevadm', ['/lib/systemd/systemd-sysctl']).opened.length, 1);
  });

  // Container plumbing, as measured under watch (docs/recipes/os_network_fingerprint.md,
  // "Container plumbing"): the engine (pid 60, started by a shell) reads its settings, its network
  // helper (pid 61) reads more, and the container's process (pid 62, exec'd by the engine's
  // runtime) reads what it reads.
  const BRIDGE = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  const PODMAN0 = '/proc/sys/net/ipv4/conf/podman0/route_localnet';
  const ETH0 = '/proc/sys/net/ipv6/conf/eth0/autoconf';
  const NETAVARK = ['/usr/lib/podman/netavark', '--config', '/run/containers/networks', '--rootless=false', 'setup', '/run/netns/netns-1'];
  const PODMAN_READS = [BRIDGE, IPV4, CORE];
  const NETAVARK_READS = [IPV4, PODMAN0, ETH0];
  // dockerd reads 2; its set-ipv6 re-exec reads ipv6/conf/all and docker-proxy core/somaxconn.
  const DOCKERD_READS = [BRIDGE, IPV4];
  const DOCKER_HELPERS: readonly (readonly [readonly string[], string])[] = [[['/usr/sbin/dockerd', 'set-ipv6', '/var/run/docker/netns/1', 'all', 'false'], IPV6], [['/usr/sbin/docker-proxy', '-proto', 'tcp'], CORE]];
  const containerStart = (engine: string, engineReads: readonly string[], helpers: readonly (readonly [readonly string[], ...string[]])[], options: { uid?: number; helperParent?: string; inside?: readonly string[] } = {}): World => {
    const w = new World({ uid: options.uid ?? 0 }).exec(60, 0, '/usr/bin/bash').exec(60, 1, engine, engine, 'run', '--rm', '-p', '8080:80', 'img', 'true');
    let t = 2;
    for (const file of engineReads) w.touch(60, t++, file);
    let parent = 60;
    if (options.helperParent !== undefined) { w.fork(60, 59, t).exec(59, t++, options.helperParent); parent = 59; }
    let pid = 70;
    for (const [argv, ...reads] of helpers) {
      w.fork(parent, pid, t).exec(pid, t++, argv[0] ?? '', ...argv);
      for (const file of reads) w.touch(pid, t++, file);
      w.exit(pid++, t++);
    }
    w.fork(60, 62, t).exec(62, t++, '/bin/busybox', 'busybox', ...(options.inside ?? ['true']));
    for (const file of options.inside?.[0] === 'sysctl' ? [CORE, IPV4, UNIX, IPV6] : []) w.touch(62, t++, file);
    return w.exit(62, t++).exit(60, t).flush();
  };
  const podmanStart = (helper: readonly string[] = NETAVARK, options: Parameters<typeof containerStart>[3] = {}): World =>
    containerStart('/usr/bin/podman', PODMAN_READS, [[helper, ...NETAVARK_READS]], options);
  const dockerStart = (options: Parameters<typeof containerStart>[3] = {}): World =>
    containerStart('/usr/sbin/dockerd', DOCKERD_READS, DOCKER_HELPERS.map(([argv, file]) => [argv, file] as const), options);

  void test('podman and netavark starting a container with a published port, as root, are excepted', () => {
    assert.equal(podmanStart().opened.length, 0);
  });

  void test('the CNI bridge plugin run by podman is excepted', () => {
    assert.equal(podmanStart(['/usr/lib/cni/bridge']).opened.length, 0);
  });

  void test('dockerd and the helpers it starts, as root, are excepted', () => {
    assert.equal(dockerStart().opened.length, 0);
  });

  void test('a sysctl -a inside the container still fires, as the container\'s process, not the engine', () => {
    for (const w of [podmanStart(NETAVARK, { inside: ['sysctl', '-a'] }), dockerStart({ inside: ['sysctl', '-a'] })]) {
      assert.deepEqual(w.opened.map((d) => [d.subject.process.pid, d.subject.process.exe]), [[62, '/bin/busybox']]);
    }
  });

  void test('container plumbing run by another user (rootless), or a helper run by something else, is not excepted', () => {
    assert.deepEqual(podmanStart(NETAVARK, { uid: 1000 }).opened.map((d) => d.subject.process.exe).sort(), ['/usr/bin/podman', '/usr/lib/podman/netavark'], 'rootless podman');
    assert.deepEqual(dockerStart({ uid: 1000 }).opened.map((d) => [d.subject.scope, d.subject.process.exe]), [['process-tree', '/usr/sbin/dockerd']], 'dockerd as a user');
    assert.deepEqual(podmanStart(NETAVARK, { helperParent: '/usr/bin/bash' }).opened.map((d) => d.subject.process.exe), ['/usr/lib/podman/netavark'], 'netavark started by a shell');
    assert.deepEqual(podmanStart(['/usr/lib/podman/netavark', 'version']).opened.map((d) => d.subject.process.exe), ['/usr/lib/podman/netavark'], 'netavark without setup/teardown');
    assert.deepEqual(podmanStart(['/usr/lib/cni/bridge'], { helperParent: '/usr/bin/containerd' }).opened.map((d) => d.subject.process.exe), ['/usr/lib/cni/bridge'], 'CNI bridge run by containerd: not measured');
  });
});

void describe('engine: lineage when a dead process\'s pid is taken over (clone3 set_tid)', () => {
  // S (10) runs one reader per area; each reader's intermediate (11, 13, 15) exits and its pid is
  // taken at once by a sleep forked by a helper (20), outside S's line.
  const split = (): World => {
    const w = new World().exec(10, 0, '/usr/bin/s', 's').fork(10, 20, 1).exec(20, 2, '/usr/bin/helper', 'helper');
    let t = 10;
    for (const [i, file] of [CORE, IPV4, UNIX].entries()) {
      const intermediate = 11 + 2 * i;
      const reader = intermediate + 1;
      w.fork(10, intermediate, t++).fork(intermediate, reader, t++).exit(intermediate, t++)
        .fork(20, intermediate, t++).exec(intermediate, t++, '/usr/bin/sleep', 'sleep', '1000')
        .exec(reader, t++, '/usr/bin/cat', 'cat', file).touch(reader, t++, file).exit(reader, t++);
    }
    return w.exit(20, t++).exit(10, t).flush();
  };

  void test('readers split across such intermediates still add up in their script\'s tree, not in the new holders\' tree', () => {
    const d = split().closed;
    assert.deepEqual(d.map((x) => [x.subject.scope, x.subject.process.pid, x.subject.process.exe]), [['process-tree', 10, '/usr/bin/s']]);
  });

  void test('an exception on the new holder\'s program (parent or ancestor) does not cover the reader', () => {
    const recipe = withChanges({ exceptions: [exception({ parentExe: ['/usr/bin/sleep'] }), exception({ name: 'y', ancestorExe: ['/usr/bin/helper'] })] });
    const w = new World({ recipes: [recipe] }).exec(10, 0, '/usr/bin/s', 's').fork(10, 20, 1).exec(20, 2, '/usr/bin/helper', 'helper')
      .fork(10, 11, 3).fork(11, 12, 4).exit(11, 5).fork(20, 11, 6).exec(11, 7, '/usr/bin/sleep', 'sleep')
      .exec(12, 8, '/usr/bin/cat', 'cat').touch(12, 9, CORE).touch(12, 10, IPV4).touch(12, 11, UNIX).flush();
    assert.equal(w.opened.length, 1);
    assert.deepEqual(w.opened[0]?.subject.ancestry.map((a) => [a.pid, a.exe]), [[11, '/usr/bin/s'], [10, '/usr/bin/s']]);
  });
});
