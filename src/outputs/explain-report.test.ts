import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DetectionPipeline } from '../engine/detection-pipeline.ts';
import type { Recipe } from '../model/recipe.ts';
import type { AccessAction, SensorEvent } from '../model/sensor-event.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { ExplainCollector } from './explain-report.ts';

const GOLDEN = fileURLToPath(new URL('../../test/golden/explain-shell-loop.txt', import.meta.url));
const T0 = 1_800_000_000_000;

void test('golden explain: a script whose cats add up, an excepted sysctl, a failed probe and a withdrawn stat', () => {
  const base = BUILTIN_RECIPES[0] as Recipe;
  const recipe: Recipe = {
    ...base,
    exceptions: [...base.exceptions, { name: 'audit sysctl', reason: 'r', exe: ['/usr/sbin/sysctl'], argv: 'sysctl -a', parentExe: [], ancestorExe: [], uid: [], container: [], environment: [], origin: 'tripline.yaml:4' }],
  };
  const explain = new ExplainCollector(recipe);
  const pipeline = new DetectionPipeline({
    recipes: [recipe], sessionId: 's', initialCwd: '/work', trace: explain.observe,
    context: { environment: { kind: 'ci', source: 't' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 't', version: null } },
  });
  let t = 0;
  const push = (e: SensorEvent): void => { pipeline.push(e); };
  const exec = (tid: number, exe: string, ...argv: string[]): void => { push({ kind: 'exec', timeMs: T0 + t++, tid, path: exe, argv, argvTruncated: false }); };
  const fork = (parent: number, child: number): void => { push({ kind: 'fork', timeMs: T0 + t++, parentTid: parent, childTid: child, thread: false, sharesFs: false }); };
  const touch = (tid: number, path: string, action: AccessAction = 'read', error?: string): void => {
    push({ kind: 'access', timeMs: T0 + t++, tid, syscall: 'openat', action, path, ...(error === undefined ? {} : { error }) });
  };
  exec(10, '/bin/sh', 'sh', 'audit.sh');
  fork(10, 11); exec(11, '/usr/sbin/sysctl', 'sysctl', '-a');
  touch(11, '/proc/sys/net/core/somaxconn'); touch(11, '/proc/sys/net/ipv4/ip_forward'); touch(11, '/proc/sys/net/unix/max_dgram_qlen');
  fork(10, 12); exec(12, '/usr/sbin/sysctl', 'sysctl', '-w', 'net.ipv4.ip_forward=0');
  touch(12, '/proc/sys/net/ipv4/ip_forward', 'stat'); touch(12, '/proc/sys/net/ipv4/ip_forward', 'write');
  fork(10, 13); exec(13, '/usr/bin/cat', 'cat', '/proc/sys/net/core/somaxconn', '/proc/sys/net/nope');
  touch(13, '/proc/sys/net/core/somaxconn'); touch(13, '/proc/sys/net/nope', 'read', 'ENOENT');
  fork(10, 14); exec(14, '/usr/bin/cat', 'cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6');
  touch(14, '/proc/sys/net/ipv6/conf/all/disable_ipv6');
  fork(10, 15); exec(15, '/usr/bin/cat', 'cat', '/proc/sys/net/unix/max_dgram_qlen');
  touch(15, '/proc/sys/net/unix/max_dgram_qlen');
  fork(10, 16); exec(16, '/usr/bin/cat', 'cat', '/proc/sys/net/ipv4/tcp_syncookies');
  touch(16, '/proc/sys/net/ipv4/tcp_syncookies');
  pipeline.flush();
  const text = `${explain.render((pid) => pipeline.normalizer.processes.get(pid)).replace(/fired at \S+/g, 'fired at TIME')}\n`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
  assert.ok(explain.fired);
});
