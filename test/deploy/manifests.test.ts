// The Kubernetes manifest (deploy/kubernetes/daemonset.yaml) and the Helm chart
// (deploy/helm/tripline) are valid Kubernetes objects, checked against the Kubernetes OpenAPI
// schemas as compiled with ajv by the pinned kubernetes-models package (its schemas allow fields
// they do not list, as the API server does: so the fields that matter are also asserted at their
// exact paths), and both say the same: hostPID, the measured capabilities and nothing else, a
// read-only root filesystem, resources, the memory volume the detections go through to stdout,
// the runtime's state directories mounted read-only.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { REPO_DIR } from '../e2e/run-tripline.ts';
import { chartObject, renderHelmTemplate } from './render-helm-template.ts';

/** What the container really needs, measured with podman (README, "Kubernetes"). */
const MEASURED_CAPABILITIES = ['BPF', 'PERFMON', 'SYS_PTRACE'];

interface Container {
  readonly name: string;
  readonly image: string;
  readonly env?: readonly { name: string; value?: string }[];
  readonly securityContext?: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] }; seccompProfile?: { type: string } };
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly volumeMounts?: readonly { name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }[];
}
interface PodSpec {
  readonly hostPID?: boolean;
  readonly containers: readonly Container[];
  readonly volumes?: readonly { name: string; emptyDir?: { medium?: string; sizeLimit?: string }; hostPath?: { path: string } }[];
}
interface DaemonSetObject { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: { template: { spec: PodSpec } } }

/** Validates with the Kubernetes schema of its kind; throws with the schema's errors. */
function validate(doc: unknown): void {
  const kind = (doc as { kind?: unknown }).kind;
  if (kind === 'DaemonSet') new DaemonSet(doc as ConstructorParameters<typeof DaemonSet>[0]).validate();
  else if (kind === 'Namespace') new Namespace(doc as ConstructorParameters<typeof Namespace>[0]).validate();
  else throw new Error(`no schema here for kind ${String(kind)}`);
}

function manifestDocuments(): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(REPO_DIR, 'deploy/kubernetes/daemonset.yaml'), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, []);
  return docs.map((d) => d.toJS() as unknown);
}

function renderChart(values?: Record<string, unknown>): DaemonSetObject {
  const dir = join(REPO_DIR, 'deploy/helm/tripline');
  const chart = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const defaults = parse(readFileSync(join(dir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const rendered = renderHelmTemplate(readFileSync(join(dir, 'templates/daemonset.yaml'), 'utf8'), {
    Values: { ...defaults, ...values }, Chart: chartObject(chart), Release: { Name: 'tripline', Namespace: 'security' },
  });
  return parse(rendered) as DaemonSetObject;
}

function checkTriplinePod(pod: PodSpec): void {
  assert.equal(pod.hostPID, true, 'hostPID: watch sees every process of the node');
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.ok(c !== undefined);
  const sc = c.securityContext;
  assert.ok(sc !== undefined, 'securityContext');
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.deepEqual(sc.capabilities.add, MEASURED_CAPABILITIES);
  assert.equal(sc.seccompProfile?.type, 'Unconfined', 'RuntimeDefault refuses bpf(2) without SYS_ADMIN');
  for (const key of ['cpu', 'memory']) {
    assert.match(c.resources?.requests?.[key] ?? '', /^\d+(m|Mi)?$/, `requests.${key}`);
    assert.match(c.resources?.limits?.[key] ?? '', /^\d+(m|Mi)?$/, `limits.${key}`);
  }
  const output = c.volumeMounts?.find((m) => m.mountPath === '/run/tripline');
  assert.ok(output !== undefined, 'the detections file lives in a writable volume at /run/tripline (TRIPLINE_OUTPUT_DIR)');
  assert.equal(pod.volumes?.find((v) => v.name === output.name)?.emptyDir?.medium, 'Memory');
  const btf = c.volumeMounts?.find((m) => m.mountPath === '/sys/kernel/btf');
  assert.equal(btf?.readOnly, true);
  assert.equal(pod.volumes.find((v) => v.name === btf.name)?.hostPath?.path, '/sys/kernel/btf');
  // The runtime's state, where watch reads each container's name, image and pod (containerd, cri-o).
  const mounts: NonNullable<Container['volumeMounts']> = c.volumeMounts ?? [];
  const volumes: NonNullable<PodSpec['volumes']> = pod.volumes ?? [];
  for (const dir of ['/run/containerd', '/run/containers']) {
    const mount = mounts.find((m) => m.mountPath === dir);
    assert.ok(mount !== undefined, `${dir} mounted`);
    assert.equal(mount.readOnly, true, `${dir} mounted read-only`);
    assert.equal(mount.mountPropagation, 'HostToContainer', `${dir}: the runtime's unmounts reach the pod`);
    assert.equal(volumes.find((v) => v.name === mount.name)?.hostPath?.path, dir);
  }
  assert.ok(c.env?.some((e) => e.name === 'TRIPLINE_ENVIRONMENT'), 'TRIPLINE_ENVIRONMENT');
}

void test('deploy/kubernetes/daemonset.yaml: a Namespace and a DaemonSet that validate against the Kubernetes schemas', () => {
  const docs = manifestDocuments();
  assert.deepEqual(docs.map((d) => (d as { kind: string }).kind), ['Namespace', 'DaemonSet']);
  for (const d of docs) validate(d);
  const ds = docs[1] as DaemonSetObject;
  assert.equal(ds.metadata.namespace, 'tripline');
  checkTriplinePod(ds.spec.template.spec);
});

void test('the schemas are not a formality: a wrong type and a missing required field are refused', () => {
  const ds = structuredClone(manifestDocuments()[1]) as { spec: { template: { spec: Record<string, unknown> } } };
  ds.spec.template.spec.hostPID = 'yes';
  assert.throws(() => { validate(ds); }, /hostPID must be boolean/);
  const noContainers = structuredClone(manifestDocuments()[1]) as { spec: { template: { spec: Record<string, unknown> } } };
  delete noContainers.spec.template.spec.containers;
  assert.throws(() => { validate(noContainers); }, /required property 'containers'|must have required property containers/);
});

void test('the Helm chart renders a valid DaemonSet with the same pod as the plain manifest', () => {
  const rendered = renderChart();
  validate(rendered);
  assert.equal(rendered.metadata.namespace, 'security');
  checkTriplinePod(rendered.spec.template.spec);
  const plain = manifestDocuments()[1] as DaemonSetObject;
  assert.deepEqual(rendered.spec.template.spec, plain.spec.template.spec, 'chart defaults and manifest agree');
  const chart = parse(readFileSync(join(REPO_DIR, 'deploy/helm/tripline/Chart.yaml'), 'utf8')) as { appVersion: string };
  assert.equal(rendered.spec.template.spec.containers[0]?.image, `ghcr.io/tripline-dev/tripline:${chart.appVersion}`);
});

void test('chart values reach the pod: image tag, environment, an extra capability', () => {
  const rendered = renderChart({
    image: { repository: 'registry.example/tripline', tag: '9.9.9', pullPolicy: 'Always' },
    environment: 'staging',
    capabilities: [...MEASURED_CAPABILITIES, 'SYS_RESOURCE'],
  });
  validate(rendered);
  const c = rendered.spec.template.spec.containers[0];
  assert.equal(c?.image, 'registry.example/tripline:9.9.9');
  assert.deepEqual(c.env?.find((e) => e.name === 'TRIPLINE_ENVIRONMENT'), { name: 'TRIPLINE_ENVIRONMENT', value: 'staging' });
  assert.deepEqual(c.securityContext?.capabilities?.add, [...MEASURED_CAPABILITIES, 'SYS_RESOURCE']);
});

void test('the template renderer refuses what it does not implement', () => {
  const ctx = { Values: { a: 1 }, Chart: {}, Release: { Name: 'r', Namespace: 'n' } };
  assert.throws(() => renderHelmTemplate('{{ include "x" . }}', ctx), /unsupported/);
  assert.throws(() => renderHelmTemplate('{{ .Values.a | upper }}', ctx), /unsupported function/);
  assert.throws(() => renderHelmTemplate('{{ .Values.b }}', ctx), /not defined/);
  assert.equal(renderHelmTemplate('x:\n  {{- toYaml .Values | nindent 2 }}\n', ctx), 'x:\n  a: 1\n');
});
