import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerFromCgroup, readHostInfo } from './host-info.ts';

const ID = '3f2a'.repeat(16);

test('container ids are read from the cgroup paths of the common runtimes', () => {
  assert.deepEqual(containerFromCgroup(`0::/system.slice/docker-${ID}.scope\n`), { id: ID, runtime: 'docker' });
  assert.deepEqual(containerFromCgroup(`12:pids:/docker/${ID}\n`), { id: ID, runtime: 'docker' });
  assert.deepEqual(containerFromCgroup(`0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-${ID}.scope`), { id: ID, runtime: 'containerd' });
  assert.deepEqual(containerFromCgroup(`0::/machine.slice/libpod-${ID}.scope`), { id: ID, runtime: 'podman' });
  assert.equal(containerFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n'), null);
});

test('host facts come from the running kernel', () => {
  const h = readHostInfo();
  assert.ok(h.hostname.length > 0);
  assert.match(h.kernel, /^\d+\.\d+/);
});
