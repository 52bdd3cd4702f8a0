// End to end: under `tripline watch`, a container whose very FIRST process reads network
// settings and is gone at once (pid 1 of the container is a sysctl of three keys: a millisecond)
// is attributed to that container. Tripline is made to fall behind deterministically (stopped
// while the container runs, as a loaded host makes it): /proc/PID/cgroup and the container's
// cgroup directory are gone when it reads the records, so the container comes from what the
// kernel put in the EXEC record (the cgroup's id, its directory's name and its parent's). Before,
// such a process was placed under its host parent (runc, conmon) or nowhere. bpftrace's program
// gives the id alone: under it Tripline is not stopped (the id is mapped while the directory is
// there). Needs root, the eBPF sensor and podman.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, podmanUnavailable, runContainer } from '../containers/podman.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, EXPECTED_SENSOR, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable() ?? podmanUnavailable();

const IMAGE = 'localhost/tripline-test-busybox:1';
/** Three directories of /proc/sys/net (the recipe's threshold), read by one short-lived process. */
const KEYS = ['net.core.somaxconn', 'net.ipv4.ip_forward', 'net.unix.max_dgram_qlen'];
const RUNS = 3;

void test('watch attributes a container\'s first, short-lived process to its container (the kernel\'s cgroup id, not /proc)', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  busyboxImage(IMAGE);
  const jsonl = join(dir, 'watch.jsonl');
  // No runtime API: the container's id comes from its cgroup alone.
  const watch = startWatch(['--jsonl', jsonl, '--environment', 'production']);
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    const ids: string[] = [];
    const pause = EXPECTED_SENSOR === 'tripline-sensor';
    for (let i = 0; i < RUNS; i++) {
      // Stopped, the sensor's records wait in its pipe and ring buffer (32 MiB) meanwhile.
      if (pause) watch.child.kill('SIGSTOP');
      let run: ReturnType<typeof runContainer>;
      try {
        run = runContainer(IMAGE, ['sysctl', ...KEYS]);
      } finally {
        if (pause) watch.child.kill('SIGCONT');
      }
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.id, /^[0-9a-f]{64}$/);
      ids.push(run.id);
    }
    // Each container's sysctl is a detection (a notice each, in order of the runs at the latest).
    await watch.waitFor(new RegExp(`(os_network_fingerprint .*sysctl ${KEYS.join(' ').replace(/\./g, '\\.')}[^]*){${String(RUNS)}}`), 120_000);
    watch.child.kill('SIGINT');
    assert.equal(await watch.exited, 0, watch.stderr());
    const readers = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.argv.join(' ') === `sysctl ${KEYS.join(' ')}`);
    const got = readers.map((d) => d.subject.process.container?.id ?? `host or unknown: ${JSON.stringify(d.subject.process.container)} (ancestry ${d.subject.ancestry.map((a) => a.comm).join(' < ')})`);
    // Revisions of one detection repeat it; other tests may run containers beside this one.
    assert.deepEqual(got.filter((g) => !/^[0-9a-f]{64}$/.test(g)), [], watch.stderr());
    for (const id of ids) assert.ok(got.includes(id), `no detection in container ${id}: ${got.join(', ')}`);
    for (const d of readers) assert.equal(d.subject.process.container?.runtime, 'podman');
  } finally {
    if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
  }
}));
