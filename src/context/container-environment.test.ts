import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetectionPipeline } from '../engine/detection-pipeline.ts';
import { isLabelKey, type ContainerIdentity } from '../model/container.ts';
import type { Environment } from '../model/environment.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { environmentFromContainer } from './container-environment.ts';

const LABEL = 'tripline.io/environment';
const RUN: Environment = { kind: 'production', source: '--environment' };

function container(labels: Record<string, string>, pod: Record<string, string> | null, resolved = true): ContainerIdentity {
  return {
    runtime: 'containerd', id: 'c'.repeat(64), name: 'web', image: 'registry/web:1', imageDigest: null, labels, resolved,
    pod: pod === null ? null : { name: 'web-7d9f', namespace: 'shop', uid: null, labels: pod },
  };
}

describe('environmentFromContainer', () => {
  it('takes ci, staging or production from the pod label, else the container\'s, and says where', () => {
    assert.deepEqual(environmentFromContainer(container({}, { [LABEL]: 'staging' }), LABEL, RUN), { kind: 'staging', source: `label ${LABEL} of pod shop/web-7d9f` });
    assert.deepEqual(environmentFromContainer(container({ [LABEL]: 'ci' }, null), LABEL, RUN), { kind: 'ci', source: `label ${LABEL} of container web` });
    // The run's CI context stays.
    const ci = { provider: 'github-actions', repository: 'o/r' };
    assert.deepEqual(environmentFromContainer(container({}, { [LABEL]: 'ci' }), LABEL, { ...RUN, ci }).ci, ci);
  });

  it('the run\'s environment for the host, a container not described yet, and one without the label', () => {
    assert.equal(environmentFromContainer(null, LABEL, RUN), RUN);
    assert.equal(environmentFromContainer(undefined, LABEL, RUN), RUN);
    assert.equal(environmentFromContainer(container({ [LABEL]: 'ci' }, null, false), LABEL, RUN), RUN);
    assert.equal(environmentFromContainer(container({ other: 'ci' }, { app: 'web' }), LABEL, RUN), RUN);
  });

  it('refuses any other value (the label is the deployer\'s): the run\'s environment, with the value quoted and cut in its source', () => {
    for (const value of ['development', 'unknown', 'Production', 'prod', ' production', '', 'production\n']) {
      const got = environmentFromContainer(container({}, { [LABEL]: value }), LABEL, RUN);
      assert.equal(got.kind, 'production', JSON.stringify(value));
      assert.equal(got.source, `--environment; the label ${LABEL} of pod shop/web-7d9f says ${JSON.stringify(value)}, which is not ci, staging, production: ignored`);
    }
    const long = environmentFromContainer(container({}, { [LABEL]: `x${'\u001b[31m'.repeat(50)}` }), LABEL, { kind: 'ci', source: 'default' });
    assert.equal(long.kind, 'ci');
    assert.match(long.source, /\.\.\."/, 'cut');
    assert.ok(!long.source.includes('\u001b'), 'control characters are escaped (JSON)');
  });
});

it('isLabelKey takes Kubernetes label keys and nothing else', () => {
  for (const k of ['tripline.io/environment', 'environment', 'app.kubernetes.io/part-of', 'a', 'A_b.c-d']) assert.ok(isLabelKey(k), k);
  for (const k of ['', '/x', 'Tripline.io/environment', 'x/', 'a b', '-a', 'a-', 'a'.repeat(64), 'x/y/z', 'tripline.io/env\n']) assert.ok(!isLabelKey(k), k);
});

it('a detection\'s environment and guidance follow what environmentOf says for its subject', () => {
  const pipeline = new DetectionPipeline({
    recipes: BUILTIN_RECIPES, sessionId: 's', initialCwd: '/', initialUid: 1000,
    context: {
      environment: RUN, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'test', version: null },
      environmentOf: (subject) => (subject.pid === 20 ? { kind: 'ci', source: `label ${LABEL} of pod shop/web-7d9f` } : undefined),
    },
  });
  const T0 = 1_800_000_000_000;
  const out = [];
  for (const pid of [10, 20]) {
    out.push(...pipeline.push({ kind: 'fork', timeMs: T0, parentTid: 1, childTid: pid, thread: false, sharesFs: false }));
    out.push(...pipeline.push({ kind: 'exec', timeMs: T0, tid: pid, path: '/usr/sbin/sysctl', argv: ['sysctl', '-a'], argvTruncated: false }));
    for (const [i, p] of ['/proc/sys/net/core/somaxconn', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/unix/max_dgram_qlen'].entries()) {
      out.push(...pipeline.push({ kind: 'access', timeMs: T0 + i, tid: pid, syscall: 'openat', action: 'read', path: p }));
    }
    out.push(...pipeline.push({ kind: 'exit', timeMs: T0 + 5, tid: pid, exitCode: 0 }));
  }
  out.push(...pipeline.flush());
  const closed = out.filter((o) => o.type === 'closed').map((o) => o.detection);
  const byPid = new Map(closed.map((d) => [d.subject.process.pid, d]));
  assert.equal(byPid.get(10)?.environment.kind, 'production');
  assert.equal(byPid.get(10)?.guidance.environment, 'production');
  assert.equal(byPid.get(20)?.environment.kind, 'ci');
  assert.equal(byPid.get(20)?.environment.source, `label ${LABEL} of pod shop/web-7d9f`);
  assert.equal(byPid.get(20)?.guidance.environment, 'ci');
  assert.notDeepEqual(byPid.get(20)?.guidance.actions, byPid.get(10)?.guidance.actions, 'the ci guidance, not production\'s');
});
