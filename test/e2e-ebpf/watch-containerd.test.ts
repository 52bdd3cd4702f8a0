// End to end: `tripline watch` on a node whose runtime is containerd (Debian's 1.6, started here in
// a mount namespace of its own: test/containers/containerd.ts). A container in namespace k8s.io,
// under the kubelet's cgroupfs layout and with the annotations containerd's CRI plugin puts on a
// Kubernetes container, runs `sysctl -a`: the detection names the container, its image, its pod
// and namespace, read from the task bundle containerd wrote (no socket, no Docker API: the one in
// this namespace is hidden under a fresh /run); an exception on a Kubernetes namespace silences
// only that namespace's container. Needs root, the eBPF sensor, containerd and podman (to save
// the busybox image ctr imports); skipped with the reason otherwise.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, podmanUnavailable } from '../containers/podman.ts';
import { containerdUnavailable, startContainerd } from '../containers/containerd.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable() ?? containerdUnavailable() ?? podmanUnavailable();

const IMAGE = 'localhost/tripline-test-busybox:1';

void test('watch names the container, image, pod and namespace of a sysctl -a in a containerd (CRI) container, from the bundle containerd wrote; an exception on a namespace silences only that one', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  busyboxImage(IMAGE);
  const archive = join(dir, 'busybox.tar');
  const saved = spawnSync('podman', ['save', '--format', 'oci-archive', '-o', archive, IMAGE], { encoding: 'utf8' });
  assert.equal(saved.status, 0, saved.stderr);
  const containerd = await startContainerd(dir);
  try {
    containerd.importImage(archive);
    const config = join(dir, 'tripline.yaml');
    writeFileSync(config, [
      'exceptions:',
      '  - recipe: os_network_fingerprint',
      '    name: quiet namespace',
      '    reason: the test namespace that may read these',
      '    k8s_namespace: "quiet-*"',
      '',
    ].join('\n'), { mode: 0o644 });
    const jsonl = join(dir, 'watch.jsonl');
    // Tripline runs in containerd's mount namespace: it sees /run/containerd as a node's watch does (nsenter execs node).
    const watch = startWatch(['--config', config, '--jsonl', jsonl, '--environment', 'production'], containerd.inNamespace([]));
    try {
      await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
      // The runtime is asked about a container when Tripline first sees one of its processes, in
      // the background: accesses judged before the answer are not matched by a namespace
      // condition. So the excepted container starts and waits; sysctl -a then runs in it through
      // ctr task exec.
      const quiet = containerd.runPodContainer({ image: IMAGE, name: 'tools', pod: { name: 'tools-1', namespace: 'quiet-ops' }, argv: ['sleep', '600'], then: ['sh', '-c', 'sysctl -a >/dev/null 2>&1; exit 0'] });
      assert.equal(quiet.status, 0, quiet.stderr);
      // The entrypoint outlives its sysctl -a, as an entrypoint script does; the bundle is there
      // from before the container's first process until ctr removes the container.
      const c = containerd.runPodContainer({ image: IMAGE, name: 'web', pod: { name: 'web-7d9f', namespace: 'shop' }, argv: ['sh', '-c', 'sysctl -a >/dev/null 2>&1; exec sleep 3'] });
      assert.equal(c.status, 0, c.stderr);
      await watch.waitFor(new RegExp(`os_network_fingerprint .*sysctl -a.* in container .*kubernetes ${c.id.slice(0, 12)}`), 120_000);
      watch.child.kill('SIGINT');
      assert.equal(await watch.exited, 0, watch.stderr());
      const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
      const mine = detections.filter((d) => d.subject.process.container?.id === c.id);
      const seen = detections.map((d) => `${d.subject.process.comm} ${JSON.stringify(d.subject.process.container)}`).join('\n');
      assert.ok(mine.length >= 1, `no detection in container ${c.id}:\n${seen}\n${watch.stderr()}`);
      const container = mine[0]?.subject.process.container;
      assert.equal(container?.runtime, 'kubernetes', 'a bare id under kubepods');
      assert.equal(container.name, 'web', seen);
      assert.equal(container.image, IMAGE);
      assert.deepEqual(container.pod, { name: 'web-7d9f', namespace: 'shop', uid: c.pod.uid, labels: {} });
      assert.doesNotMatch(watch.stderr(), /state file .* was not read/);
      assert.deepEqual(detections.filter((d) => d.subject.process.container?.id === quiet.id), [], `the excepted namespace fired:\n${seen}`);
      assert.match(watch.stderr(), /exception "os_network_fingerprint: quiet namespace" applied to \d+ access/);
    } finally {
      if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
    }
  } finally {
    await containerd.stop();
  }
}));
