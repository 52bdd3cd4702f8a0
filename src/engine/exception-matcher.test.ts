import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ContainerIdentity } from '../model/container.ts';
import type { ProcessInfo } from '../model/process-info.ts';
import type { RecipeException } from '../model/recipe.ts';
import { parseRecipe } from '../recipes/recipe-loader.ts';
import { compileExceptions, type ExceptionSubject } from './exception-matcher.ts';

const ID = 'f'.repeat(64);

function proc(pid: number): ProcessInfo {
  return {
    pid, ppid: undefined, exe: '/usr/sbin/sysctl', verifiedExe: '/usr/sbin/sysctl', argv: ['sysctl', '-a'], argvTruncated: false,
    cwd: '/', uid: 0, startMs: 0, exitMs: undefined, exitCode: undefined, exitSignal: undefined, execed: true,
  };
}

function container(over: Partial<ContainerIdentity> = {}): ContainerIdentity {
  return {
    runtime: 'podman', id: ID, name: 'exporter-1', image: 'quay.io/prometheus/node-exporter:v1.8.2', imageDigest: 'sha256:1', labels: {},
    pod: { name: 'node-exporter-abcde', namespace: 'monitoring', uid: 'u', labels: { 'app.kubernetes.io/name': 'node-exporter', tier: 'infra' } },
    resolved: true, ...over,
  };
}

function exception(over: Partial<RecipeException>): RecipeException {
  return { name: 'e', reason: 'r', exe: [], argv: undefined, parentExe: [], ancestorExe: [], uid: [], container: [], environment: [], origin: 'test', ...over };
}

function subject(c: ContainerIdentity | null | undefined): ExceptionSubject {
  return { process: proc(10), ancestry: [], environment: 'production', containerId: c?.id, container: c };
}

function matches(e: Partial<RecipeException>, c: ContainerIdentity | null | undefined): boolean {
  return compileExceptions([exception(e)])?.(subject(c)) !== undefined;
}

describe('container and Kubernetes conditions', () => {
  it('container.image: exact or a glob over the whole name, never a substring', () => {
    assert.ok(matches({ containerImage: ['quay.io/prometheus/node-exporter:v1.8.2'] }, container()));
    assert.ok(matches({ containerImage: ['quay.io/prometheus/node-exporter:*'] }, container()));
    assert.ok(matches({ containerImage: ['*/node-exporter:v1.8.?'] }, container()));
    assert.ok(!matches({ containerImage: ['node-exporter'] }, container()), 'a substring is not a match');
    assert.ok(!matches({ containerImage: ['quay.io/prometheus/node-exporter'] }, container()), 'a prefix is not a match');
    assert.ok(matches({ containerImage: ['quay.io/prometheus/node-exporter:*'] }, container({ image: 'quay.io/prometheus/node-exporter:v1/x' })), '* spans any characters, / included');
    assert.ok(!matches({ containerImage: ['quay.io/prometheus/node-exporter:v1.8.2'] }, container({ image: 'evil.io/quay.io/prometheus/node-exporter:v1.8.2' })));
    assert.ok(!matches({ containerImage: ['[a-z]*'] }, container({ image: 'Quay' })));
    assert.ok(matches({ containerImage: ['[!a-z]*'] }, container({ image: 'Quay' })));
  });

  it('container.name, k8s.namespace and k8s.pod_label.KEY', () => {
    assert.ok(matches({ containerName: ['exporter-*'] }, container()));
    assert.ok(!matches({ containerName: ['exporter'] }, container()));
    assert.ok(matches({ k8sNamespace: ['monitoring'] }, container()));
    assert.ok(!matches({ k8sNamespace: ['monitor'] }, container()));
    assert.ok(matches({ k8sPodLabels: { 'app.kubernetes.io/name': ['node-exporter'], tier: ['infra', 'ops'] } }, container()));
    assert.ok(!matches({ k8sPodLabels: { 'app.kubernetes.io/name': ['node-exporter'], tier: ['ops'] } }, container()), 'every key must match');
    assert.ok(!matches({ k8sPodLabels: { missing: ['*'] } }, container()), 'an absent label never matches, not even *');
    assert.ok(!matches({ k8sPodLabels: { constructor: ['*'] } }, container()), 'no inherited property is a label');
    assert.ok(!matches({ k8sNamespace: ['monitoring'] }, container({ pod: null })), 'no pod: no namespace');
  });

  it('never matches a process on the host, one whose container is unknown, or one the runtime has not described yet', () => {
    const e = { containerImage: ['*'] };
    assert.ok(!matches(e, null));
    assert.ok(!matches(e, undefined));
    assert.ok(!matches(e, container({ resolved: false, image: null })));
    assert.ok(matches(e, container()));
  });

  it('combines with the other conditions (all must hold)', () => {
    assert.ok(matches({ exe: ['/usr/sbin/sysctl'], k8sNamespace: ['monitoring'] }, container()));
    assert.ok(!matches({ exe: ['/usr/bin/cat'], k8sNamespace: ['monitoring'] }, container()));
    assert.ok(matches({ container: [ID.slice(0, 12)], containerName: ['exporter-1'] }, container()), 'the container id is the process\'s own');
  });
});

describe('the loader reads the conditions', () => {
  const base = readFileSync(new URL('../../test/fixtures/recipes/good-ssh-config-survey.yaml', import.meta.url), 'utf8');
  const withException = (yaml: string): string => base.replace(/^exceptions:\n/m, `exceptions:\n${yaml}`);

  it('container_image, container_name, k8s_namespace and k8s_pod_label become the exception\'s conditions', () => {
    const { recipe, diagnostics } = parseRecipe(withException(`  - name: node exporter
    reason: the DaemonSet reads these
    exe: /bin/node_exporter
    container_image: [quay.io/prometheus/node-exporter:*]
    container_name: exporter-1
    k8s_namespace: monitoring
    k8s_pod_label: { app.kubernetes.io/name: node-exporter, tier: [infra, ops] }
`), 'x.yaml');
    assert.deepEqual(diagnostics.filter((d) => d.severity === 'error'), []);
    const e = recipe?.exceptions[0];
    assert.deepEqual(e?.containerImage, ['quay.io/prometheus/node-exporter:*']);
    assert.deepEqual(e.containerName, ['exporter-1']);
    assert.deepEqual(e.k8sNamespace, ['monitoring']);
    assert.deepEqual(e.k8sPodLabels, { 'app.kubernetes.io/name': ['node-exporter'], tier: ['infra', 'ops'] });
  });

  it('a bad glob, an empty label map and a misspelt key are diagnosed', () => {
    const { diagnostics } = parseRecipe(withException(`  - name: bad
    reason: r
    exe: /bin/x
    container_image: "[z-a]*"
    k8s_pod_label: {}
    k8s_namespaces: x
`), 'x.yaml');
    const codes = diagnostics.map((d) => `${d.code}:${d.message}`);
    assert.ok(codes.some((c) => c.startsWith('bad-glob:') && c.includes('container_image')), codes.join('\n'));
    assert.ok(codes.some((c) => c.includes('k8s_pod_label')), codes.join('\n'));
    assert.ok(codes.some((c) => c.startsWith('unknown-key:') && c.includes('k8s_namespaces')), codes.join('\n'));
  });
});
