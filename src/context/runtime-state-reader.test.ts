import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  containerdBundleConfig, crioSandboxId, crioUserdataConfig, metadataFromContainerdSpec, metadataFromCrioSpec, readStateFile, RuntimeStateResolver,
} from './runtime-state-reader.ts';

const FIXTURES = new URL('../../test/fixtures/runtime-state/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const CONTAINERD = fixture('containerd-1.6.20-cri-bundle-config.json');
const CRIO_CONTAINER = fixture('crio-shaped-container-config.json');
const CRIO_SANDBOX = fixture('crio-shaped-sandbox-config.json');
/** The ids the recorded files belong to. */
const CONTAINERD_ID = '0f71535c811d51545f0fff11ef257a8fef87b2cebc5e93979d1a022456db0ab2';
const CRIO_ID = 'dbf4ca4920e2215e91222aed8fee0cd09d3660997359788bc9475fa25632d56a';
const CRIO_SANDBOX_ID = 'f3494a5276ffb86495fe09d0211050356fad5152052d141ab9877ecc00be9a76';
const POD_UID = '11111111-2222-3333-4444-555555555555';

describe('metadataFromContainerdSpec (a bundle containerd 1.6.20 wrote)', () => {
  it('names the container, its image and its pod from the CRI annotations; labels are not in the bundle', () => {
    const m = metadataFromContainerdSpec(JSON.parse(CONTAINERD));
    assert.deepEqual(m, {
      name: 'web', image: 'localhost/tripline-test-busybox:1', imageDigest: null, labels: {},
      pod: { name: 'web-7d9f', namespace: 'shop', uid: POD_UID, labels: {} },
    });
  });

  it('knows nothing of a spec without the CRI annotations, and bounds what the pod creator chose', () => {
    assert.equal(metadataFromContainerdSpec({ annotations: { 'org.opencontainers.image.stopSignal': '15' } }), undefined);
    assert.equal(metadataFromContainerdSpec({ ociVersion: '1.0.2' }), undefined);
    assert.equal(metadataFromContainerdSpec('not an object'), undefined);
    const m = metadataFromContainerdSpec({ annotations: {
      'io.kubernetes.cri.container-name': 'n'.repeat(10_000), 'io.kubernetes.cri.image-name': ['x'],
      'io.kubernetes.cri.sandbox-name': 'p'.repeat(1000), 'io.kubernetes.cri.sandbox-namespace': 'ns',
    } });
    assert.equal(m?.name?.length, 256);
    assert.equal(m.image, null, 'a value of the wrong type is dropped');
    assert.equal(m.pod?.name.length, 253);
    assert.equal(m.pod.uid, null);
    // A sandbox (the pause container) has the sandbox's image and no container name.
    const sandbox = metadataFromContainerdSpec({ annotations: {
      'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.podsandbox.image-name': 'registry.k8s.io/pause:3.9',
      'io.kubernetes.cri.sandbox-name': 'web', 'io.kubernetes.cri.sandbox-namespace': 'shop',
    } });
    assert.equal(sandbox?.name, null);
    assert.equal(sandbox.image, 'registry.k8s.io/pause:3.9');
  });
});

describe('metadataFromCrioSpec (cri-o-shaped specs containers/storage wrote)', () => {
  it('names the container, image, image id and pod, with the pod labels from its sandbox', () => {
    const spec: unknown = JSON.parse(CRIO_CONTAINER);
    assert.equal(crioSandboxId(spec), CRIO_SANDBOX_ID);
    const m = metadataFromCrioSpec(spec, JSON.parse(CRIO_SANDBOX));
    assert.equal(m?.name, 'web');
    assert.equal(m.image, 'localhost/tripline-test-busybox:1');
    assert.equal(m.imageDigest, 'fb4f2e58e55158fc02f769b48a7dc6892df76aebf3cabc37feb54585ec755d91');
    assert.deepEqual(m.pod, { name: 'web-7d9f', namespace: 'shop', uid: POD_UID, labels: { app: 'web', tier: 'front' } });
    assert.equal(m.labels['io.kubernetes.container.name'], 'web');
    // Without the sandbox's spec the pod is still named, without its labels.
    assert.deepEqual(metadataFromCrioSpec(spec)?.pod?.labels, {});
  });

  it('knows nothing without cri-o annotations; broken JSON in an annotation is ignored; an image name cri-o left empty falls back to the requested one', () => {
    assert.equal(metadataFromCrioSpec({ annotations: { 'io.container.manager': 'libpod' } }), undefined);
    const m = metadataFromCrioSpec({ annotations: { 'io.kubernetes.cri-o.Labels': '{not json', 'io.kubernetes.cri-o.Metadata': '{"name":"app"}', 'io.kubernetes.cri-o.ImageName': '', 'io.kubernetes.cri-o.Image': 'quay.io/x/y:1' } });
    assert.equal(m?.name, 'app');
    assert.equal(m.image, 'quay.io/x/y:1');
    assert.equal(m.pod, null);
    assert.equal(crioSandboxId({ annotations: { 'io.kubernetes.cri-o.SandboxID': '../../etc' } }), undefined, 'only a container id becomes a path');
  });
});

describe('RuntimeStateResolver over runtime state laid out as on a node', () => {
  let dir: string;
  let containerd: string;
  let storage: string;
  const warnings: string[] = [];
  const place = (path: string, text: string): void => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
    writeFileSync(path, text, { mode: 0o644 });
  };
  const resolver = (): RuntimeStateResolver => new RuntimeStateResolver({ roots: { containerd: [join(dir, 'missing'), containerd], containersStorage: [storage] }, warn: (m) => { warnings.push(m); } });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tripline-state-'));
    containerd = join(dir, 'containerd');
    storage = join(dir, 'storage');
    place(containerdBundleConfig(containerd, CONTAINERD_ID), CONTAINERD);
    place(crioUserdataConfig(storage, CRIO_ID), CRIO_CONTAINER);
    place(crioUserdataConfig(storage, CRIO_SANDBOX_ID), CRIO_SANDBOX);
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('answers a containerd container from its bundle, a cri-o one from its userdata, a bare kubepods id from either', async () => {
    const r = resolver();
    assert.equal((await r.resolve('containerd', CONTAINERD_ID))?.pod?.namespace, 'shop');
    assert.deepEqual((await r.resolve('cri-o', CRIO_ID))?.pod?.labels, { app: 'web', tier: 'front' });
    assert.equal((await r.resolve('kubernetes', CONTAINERD_ID))?.name, 'web');
    assert.equal((await r.resolve('kubernetes', CRIO_ID))?.imageDigest, 'fb4f2e58e55158fc02f769b48a7dc6892df76aebf3cabc37feb54585ec755d91');
    // Each runtime's own place only: a containerd id is not looked for in cri-o's, nor a podman one at all.
    assert.equal(await r.resolve('cri-o', CONTAINERD_ID), undefined);
    assert.equal(await r.resolve('podman', CRIO_ID), undefined);
    assert.equal(await r.resolve('containerd', 'e'.repeat(64)), undefined, 'a container that is not there');
    assert.equal(await r.resolve('containerd', `../../${CONTAINERD_ID}`), undefined);
    assert.deepEqual(warnings, [], 'a missing file is said nothing of');
  });

  it('reads on a later turn than the question: the caller never waits on the disk', async () => {
    const path = containerdBundleConfig(containerd, CONTAINERD_ID);
    const answer = resolver().resolve('containerd', CONTAINERD_ID);
    // Moved away before the resolver's turn: had it read synchronously, it would have found it.
    renameSync(path, `${path}.away`);
    try {
      assert.equal(await answer, undefined);
    } finally {
      renameSync(`${path}.away`, path);
    }
  });

  it('refuses a link on the way, a file others could write, one too large or not JSON, and warns once per runtime', async () => {
    const id = 'a'.repeat(64);
    const real = join(dir, 'elsewhere');
    mkdirSync(real, { mode: 0o711 });
    writeFileSync(join(real, 'config.json'), CONTAINERD, { mode: 0o644 });
    mkdirSync(dirname(dirname(containerdBundleConfig(containerd, id))), { recursive: true });
    symlinkSync(real, dirname(containerdBundleConfig(containerd, id)));
    warnings.length = 0;
    const r = resolver();
    assert.equal(await r.resolve('containerd', id), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', new RegExp(`containerd's state file .*${id}/config.json was not read: .*${id} is a symbolic link`));

    const writable = 'b'.repeat(64);
    place(crioUserdataConfig(storage, writable), CRIO_CONTAINER);
    chmodSync(crioUserdataConfig(storage, writable), 0o666);
    const large = 'c'.repeat(64);
    place(containerdBundleConfig(containerd, large), `{"annotations":{"x":"${'y'.repeat(2 * 1024 * 1024)}"}}`);
    const broken = 'd'.repeat(64);
    place(containerdBundleConfig(containerd, broken), '{"annotations":');
    const r2 = resolver();
    warnings.length = 0;
    assert.equal(await r2.resolve('cri-o', writable), undefined);
    assert.match(warnings[0] ?? '', /cri-o's state file .* was not read: .* is writable by group and others/);
    assert.equal(await r2.resolve('containerd', large), undefined);
    assert.match(warnings[1] ?? '', /larger than 1048576 bytes/);
    assert.equal(await r2.resolve('containerd', broken), undefined);
    assert.equal(warnings.length, 2, 'once per runtime');
    assert.match(JSON.stringify(readStateFile(containerdBundleConfig(containerd, broken), { owners: [0] })), /not JSON/);
    // A file owned by someone the trust rule does not name.
    assert.match(JSON.stringify(readStateFile(containerdBundleConfig(containerd, CONTAINERD_ID), { owners: [12345] })), /belongs to uid 0/);
  });
});
