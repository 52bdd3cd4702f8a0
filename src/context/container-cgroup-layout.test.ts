import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cgroupNamespaceDepth, containerFromAnchoredPath, containerFromKernelNames, mayHoldContainer, pathFromKernelNames, type KernelCgroupNames } from './container-cgroup-layout.ts';

const ID = 'a'.repeat(40) + '0123456789abcdef01234567';
const ID2 = 'b'.repeat(64);
const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const UIDS = UID.replace(/-/g, '_');

/** Real layouts: each the container. podman/runc/cgroupfs measured here; the kubelet's from pkg/kubelet/cm. */
const REAL: [string, string, { id: string; runtime: string }][] = [
  ['podman, cgroupfs (measured here)', `/libpod_parent/libpod-${ID}`, { id: ID, runtime: 'podman' }],
  ['podman, systemd', `/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
  ['podman, systemd, a sub-cgroup of the container', `/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
  ['podman pod, systemd', `/machine.slice/machine-libpod_pod_${ID2}.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
  ['docker, cgroupfs', `/docker/${ID}`, { id: ID, runtime: 'docker' }],
  ['docker, systemd', `/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
  ['systemd-nspawn payload', '/machine.slice/machine-debian\\x2dtest.scope/payload', { id: 'debian-test', runtime: 'systemd-nspawn' }],
  ['kubelet cgroupfs, guaranteed', `/kubepods/pod${UID}/${ID}`, { id: ID, runtime: 'kubernetes' }],
  ['kubelet cgroupfs, burstable', `/kubepods/burstable/pod${UID}/${ID}`, { id: ID, runtime: 'kubernetes' }],
  ['kubelet cgroupfs, besteffort, cri-o', `/kubepods/besteffort/pod${UID}/crio-${ID}`, { id: ID, runtime: 'cri-o' }],
  ['kubelet systemd, guaranteed, containerd', `/kubepods.slice/kubepods-pod${UIDS}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: 'containerd' }],
  ['kubelet systemd, burstable, containerd', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDS}.slice/cri-containerd-${ID}.scope`, { id: ID, runtime: 'containerd' }],
  ['kubelet systemd, besteffort, cri-o', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UIDS}.slice/crio-${ID}.scope`, { id: ID, runtime: 'cri-o' }],
];

/** Forged: a runtime's name made where its runtime never puts it (a delegated subtree, a container's own cgroup). */
const FORGED: [string, string][] = [
  ['a user\'s delegated subtree (the reviewer\'s attack)', `/user.slice/user-65534.slice/user@65534.service/libpod-${ID}`],
  ['under user.slice, the podman layout below it', `/user.slice/user-1000.slice/user@1000.service/libpod_parent/libpod-${ID}`],
  ['a delegated subtree in the cgroup2 mount', `/tripline-delegated/libpod-${ID}`],
  ['a docker name in a user session', `/user.slice/user-0.slice/session-1.scope/docker-${ID}.scope`],
  ['kubepods made in a user\'s subtree', `/user.slice/user-1000.slice/user@1000.service/kubepods/burstable/pod${UID}/${ID}`],
  ['a bare id under docker one level too deep', `/docker/x/${ID}`],
  ['libpod directly under the root', `/libpod-${ID}`],
  ['conmon is not the container', `/machine.slice/libpod-conmon-${ID}.scope`],
  ['cri-o conmon', `/kubepods/besteffort/pod${UID}/crio-conmon-${ID}`],
  ['libvirt qemu is not a container', '/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt'],
  ['another cgroup namespace\'s view', `/../libpod_parent/libpod-${ID}`],
  ['a . component', `/./libpod_parent/libpod-${ID}`],
  ['an empty component', `//libpod_parent/libpod-${ID}`],
  ['relative', `libpod_parent/libpod-${ID}`],
  ['the root', '/'],
];

describe('containerFromAnchoredPath', () => {
  for (const [name, path, want] of REAL) it(`real: ${name}`, () => { assert.deepEqual(containerFromAnchoredPath(path), want); });
  for (const [name, path] of FORGED) it(`forged: ${name} is the host`, () => { assert.equal(containerFromAnchoredPath(path), null); });
  it('of nested containers, the first from the root (a process in A that made libpod-B in its own cgroup is in A)', () => {
    assert.deepEqual(containerFromAnchoredPath(`/libpod_parent/libpod-${ID2}/libpod_parent/libpod-${ID}`), { id: ID2, runtime: 'podman' });
    assert.deepEqual(containerFromAnchoredPath(`/system.slice/docker-${ID2}.scope/docker/${ID}`), { id: ID2, runtime: 'docker' });
    assert.deepEqual(containerFromAnchoredPath(`/kubepods/pod${UID}/${ID2}/pod${UID}/${ID}`), { id: ID2, runtime: 'kubernetes' });
    // A pod's layout made inside a docker container: the docker container.
    assert.deepEqual(containerFromAnchoredPath(`/docker/${ID2}/pod${UID}/${ID}`), { id: ID2, runtime: 'docker' });
  });
});

/** The kernel's view of a path: its depth, leaf, parent and depth-1 name (empty deeper than 4), as the compiled sensor reads them. */
function kernelNames(path: string): KernelCgroupNames {
  const parts = path === '/' ? [] : path.slice(1).split('/');
  const level = parts.length;
  return { level, leaf: parts[level - 1] ?? '', parent: parts[level - 2] ?? '', top: level <= 4 ? (parts[0] ?? '') : '' };
}

describe('containerFromKernelNames', () => {
  for (const [name, path, want] of REAL) {
    it(`real: ${name}`, () => {
      const got = containerFromKernelNames(kernelNames(path));
      // A sub-cgroup of a container at depth 2 with nothing between is told; deeper, the names cannot tell (undefined: the id is walked for).
      assert.deepEqual(got, want);
    });
  }
  for (const [name, path] of FORGED) {
    it(`forged: ${name} is never a container`, () => {
      const got = containerFromKernelNames(kernelNames(path));
      assert.ok(got === null || got === undefined, `${path}: ${JSON.stringify(got)}`);
    });
  }
  it('a libpod name at the right depth under another parent, at another depth, or under another top: not the container', () => {
    // The reviewer's attack from the kernel's side: leaf libpod-<id>, parent a directory the user made.
    assert.equal(containerFromKernelNames({ level: 5, leaf: `libpod-${ID}`, parent: 'libpod_parent', top: '' }), undefined);
    assert.equal(containerFromKernelNames({ level: 2, leaf: `libpod-${ID}`, parent: 'tripline-delegated', top: 'tripline-delegated' }), null);
    assert.equal(containerFromKernelNames({ level: 3, leaf: `libpod-${ID}`, parent: 'libpod_parent', top: 'user.slice' }), null);
    assert.equal(containerFromKernelNames({ level: 4, leaf: `libpod-${ID}`, parent: 'libpod_parent', top: 'libpod_parent' }), undefined);
    // A depth-4 pod layout made in a container at depth 2 (docker's): not the pod's container (the walk finds docker's).
    assert.equal(containerFromKernelNames({ level: 4, leaf: ID, parent: `pod${UID}`, top: 'docker' }), undefined);
    // The top decides first: under user.slice, whatever the parent says.
    assert.equal(containerFromKernelNames({ level: 2, leaf: `libpod-${ID}`, parent: 'libpod_parent', top: 'user.slice' }), null);
    // The top disagreeing with the parent at depth 2 is no path at all.
    assert.equal(containerFromKernelNames({ level: 2, leaf: `libpod-${ID}`, parent: 'libpod_parent', top: 'docker' }), undefined);
  });
  it('host cgroups are told without a walk: a user session, the root, any depth under user.slice', () => {
    assert.equal(containerFromKernelNames(kernelNames('/user.slice/user-0.slice/session-1.scope')), null);
    assert.equal(containerFromKernelNames(kernelNames('/')), null);
    assert.equal(containerFromKernelNames(kernelNames('/init.scope')), null);
    assert.equal(containerFromKernelNames({ level: 9, leaf: 'x', parent: 'y', top: '' }), undefined, 'deeper than 4 the top is not read');
    assert.equal(containerFromKernelNames({ level: 4, leaf: 'app.service', parent: 'app.slice', top: 'user.slice' }), null);
  });
  it('no level (bpftrace, an older record) or no leaf: the names cannot tell', () => {
    assert.equal(containerFromKernelNames({ leaf: `libpod-${ID}`, parent: 'libpod_parent' }), undefined);
    assert.equal(containerFromKernelNames({ level: 2, parent: 'libpod_parent', top: 'libpod_parent' }), undefined);
    assert.equal(containerFromKernelNames({ level: -1, leaf: 'a', parent: 'b', top: 'c' }), undefined);
  });
  it('the whole path from the names, to depth 3 only', () => {
    assert.equal(pathFromKernelNames(kernelNames(`/libpod_parent/libpod-${ID}`)), `/libpod_parent/libpod-${ID}`);
    assert.equal(pathFromKernelNames(kernelNames('/machine.slice/machine-x.scope/payload')), '/machine.slice/machine-x.scope/payload');
    assert.equal(pathFromKernelNames(kernelNames('/init.scope')), '/init.scope');
    assert.equal(pathFromKernelNames(kernelNames(`/kubepods/burstable/pod${UID}/${ID}`)), undefined);
    assert.equal(pathFromKernelNames({ level: 2, leaf: 'a', parent: '..', top: '..' }), undefined);
    assert.equal(pathFromKernelNames({ level: 2, leaf: 'a', parent: 'b', top: 'c' }), undefined);
  });
});

it('mayHoldContainer: the root, the runtimes\' parents, the containers (for their sub-cgroups), nothing else', () => {
  const yes = ['/', '/kubepods', '/kubepods/burstable', `/kubepods/burstable/pod${UID}`, `/kubepods/burstable/pod${UID}/${ID}`, '/kubepods.slice/kubepods-besteffort.slice',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UIDS}.slice`, '/libpod_parent', `/libpod_parent/libpod-${ID}`, '/machine.slice', '/system.slice', '/docker'];
  const no = ['/user.slice', '/user.slice/user-1000.slice', `/libpod_parent/libpod-${ID}/sub`, '/libpod_parent/conmon', '/system.slice/cron.service', `/kubepods/burstable/pod${UID}/${ID}/x`, '/init.scope'];
  const parts = (p: string): string[] => (p === '/' ? [] : p.slice(1).split('/'));
  for (const p of yes) assert.equal(mayHoldContainer(parts(p)), true, p);
  for (const p of no) assert.equal(mayHoldContainer(parts(p)), false, p);
});

it('read in a pod\'s cgroup namespace (root at depth 3): paths past exactly that many `..` are anchored at the real root', () => {
  assert.equal(cgroupNamespaceDepth('0::/../../../init.scope\n'), 3);
  assert.equal(cgroupNamespaceDepth('12:pids:/\n0::/init.scope\n'), 0);
  assert.equal(cgroupNamespaceDepth('0::/\n'), 0);
  assert.equal(cgroupNamespaceDepth(undefined), 0);
  const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UIDS}.slice/cri-containerd-${ID}.scope`;
  assert.deepEqual(containerFromAnchoredPath(`/../../..${pod}`, undefined, 3), { id: ID, runtime: 'containerd' });
  // Fewer `..` (relative to an ancestor of the namespace's root that is not the real root), more, or none: not anchored.
  assert.equal(containerFromAnchoredPath(`/../..${pod}`, undefined, 3), null);
  assert.equal(containerFromAnchoredPath(`/../../../..${pod}`, undefined, 3), null);
  assert.equal(containerFromAnchoredPath(pod, undefined, 3), null);
  // A forged name in a user's subtree stays the host's through the `..`.
  assert.equal(containerFromAnchoredPath(`/../../../user.slice/user-65534.slice/user@65534.service/libpod_parent/libpod-${ID}`, undefined, 3), null);
});
