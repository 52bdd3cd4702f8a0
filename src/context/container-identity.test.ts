import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerFromCgroup, ContainerTracker, namespaceId, withContainers, type CgroupPathResolver, type ContainerProcReader } from './container-identity.ts';
import type { ContainerMetadata, ContainerResolver } from './runtime-client.ts';
import type { ContainerRuntime } from '../model/container.ts';
import type { DetectionProcess } from '../model/detection.ts';

const ID = 'a'.repeat(40) + '0123456789abcdef01234567';
const ID2 = 'b'.repeat(64);

describe('containerFromCgroup', () => {
  const cases: [string, string, { id: string; runtime: string } | null][] = [
    ['docker, systemd driver (v2)', `0::/system.slice/docker-${ID}.scope\n`, { id: ID, runtime: 'docker' }],
    ['docker, cgroupfs driver (v1)', `12:memory:/docker/${ID}\n11:cpu,cpuacct:/docker/${ID}\n`, { id: ID, runtime: 'docker' }],
    ['containerd CRI', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-${ID}.scope\n`, { id: ID, runtime: 'containerd' }],
    ['cri-o', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/crio-${ID}.scope\n`, { id: ID, runtime: 'cri-o' }],
    // cri-o's cgroupfs manager: crio-<id> with no .scope (cri-o internal/config/cgmgr), under the kubelet's parent.
    ['cri-o, cgroupfs driver', `0::/kubepods/besteffort/pod1234-5678/crio-${ID}\n`, { id: ID, runtime: 'cri-o' }],
    ['cri-o conmon, cgroupfs driver', `0::/kubepods/besteffort/pod1234-5678/crio-conmon-${ID}\n`, null],
    ['cri-o conmon is not in the container', `0::/kubepods.slice/crio-conmon-${ID}.scope\n`, null],
    ['podman, systemd', `0::/machine.slice/libpod-${ID}.scope/container\n`, { id: ID, runtime: 'podman' }],
    ['podman, cgroupfs (hybrid v1)', `13:pids:/libpod_parent/libpod-${ID}\n1:name=systemd:/libpod_parent/libpod-${ID}\n0::/\n`, { id: ID, runtime: 'podman' }],
    ['podman conmon', `0::/machine.slice/libpod-conmon-${ID}.scope\n`, null],
    ['kubelet cgroupfs driver', `0::/kubepods/burstable/pod1234-5678/${ID}\n`, { id: ID, runtime: 'kubernetes' }],
    ['systemd-nspawn', '0::/machine.slice/machine-debian\\x2dtest.scope/payload\n', { id: 'debian-test', runtime: 'systemd-nspawn' }],
    ['libvirt qemu is not a container', '0::/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt\n', null],
    ['the host', '0::/user.slice/user-0.slice/session-1.scope\n', null],
    ['a v1 line with a container, v2 on the host root', `0::/\n4:devices:/docker/${ID}\n`, { id: ID, runtime: 'docker' }],
    // The inner container's cgroup is made by whoever runs in the outer one: the outer container.
    ['nested: the outer container', `0::/system.slice/docker-${ID2}.scope/docker/${ID}\n`, { id: ID2, runtime: 'docker' }],
    ['a container\'s name in a user\'s delegated subtree is the host', `0::/user.slice/user-65534.slice/user@65534.service/libpod-${ID}\n`, null],
    ['a name that only contains an id is not one', `0::/user.slice/x-docker-${ID}.scope.evil\n`, null],
    ['garbage', '\0\0::::\n\n:', null],
  ];
  for (const [name, text, want] of cases) it(name, () => { assert.deepEqual(containerFromCgroup(text), want); });
});

it('namespaceId reads the inode of a namespace link and nothing else', () => {
  assert.equal(namespaceId('pid:[4026531836]', 'pid'), 4026531836);
  assert.equal(namespaceId('mnt:[4026531841]', 'mnt'), 4026531841);
  assert.equal(namespaceId('mnt:[4026531841]', 'pid'), null);
  assert.equal(namespaceId('pid:[99999999999999999999999]', 'pid'), null);
  assert.equal(namespaceId(undefined, 'pid'), null);
});

/** A /proc with processes given as pid -> [start ticks, cgroup text]. */
function fakeProc(world: Map<number, [number, string]>): ContainerProcReader {
  return {
    stat: (pid) => {
      const p = world.get(pid);
      return p === undefined ? undefined : `${String(pid)} (a b) c) S 1 ${Array.from({ length: 17 }, (_, i) => String(i)).join(' ')} ${String(p[0])} 0`;
    },
    cgroup: (pid) => world.get(pid)?.[1],
    namespace: (pid, kind) => (world.has(pid) ? `${kind}:[${String(4026530000 + pid)}]` : undefined),
    bootTimeMs: () => 1_000_000,
  };
}

class ManualResolver implements ContainerResolver {
  readonly asked: string[] = [];
  readonly answers = new Map<string, (m: ContainerMetadata | undefined) => void>();
  resolve(_runtime: ContainerRuntime, id: string): Promise<ContainerMetadata | undefined> {
    this.asked.push(id);
    return new Promise((resolve) => { this.answers.set(id, resolve); });
  }
}

describe('ContainerTracker', () => {
  it('gives the cgroup id at once, the runtime answer later as a new object, and asks once per container', async () => {
    const world = new Map<number, [number, string]>([[10, [500, `0::/libpod_parent/libpod-${ID}\n`]], [11, [510, `0::/libpod_parent/libpod-${ID}\n`]]]);
    const resolver = new ManualResolver();
    const tracker = new ContainerTracker(resolver, fakeProc(world));
    tracker.observe(10);
    tracker.observe(11);
    tracker.observe(10);
    assert.deepEqual(resolver.asked, [ID]);
    const before = tracker.containerOf({ pid: 10, startMs: 1_005_000 }, []);
    assert.equal(before?.id, ID);
    assert.equal(before.name, null);
    assert.equal(before.resolved, false);
    assert.equal(tracker.containerOf({ pid: 11, startMs: undefined }, []), before, 'the same object until more is known');
    resolver.answers.get(ID)?.({ name: 'web', image: 'localhost/app:1', imageDigest: 'sha256:00', labels: { a: 'b' }, pod: null });
    await new Promise((r) => setImmediate(r));
    const after = tracker.containerOf({ pid: 10, startMs: 1_005_000 }, []);
    assert.notEqual(after, before);
    assert.equal(after?.name, 'web');
    assert.equal(after.image, 'localhost/app:1');
    assert.equal(after.resolved, true);
    assert.deepEqual(tracker.namespacesOf(10, undefined), { pid: 4026530010, mnt: 4026530010 });
  });

  it('a process not read in time takes its nearest known ancestor\'s container; the host is null; unknown is undefined', () => {
    const world = new Map<number, [number, string]>([[20, [600, `0::/system.slice/docker-${ID}.scope\n`]], [30, [700, '0::/user.slice\n']]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world));
    tracker.observe(20);
    tracker.observe(30);
    tracker.observe(99);
    assert.equal(tracker.containerOf({ pid: 21, startMs: undefined }, [{ pid: 20, startMs: undefined }])?.id, ID);
    assert.equal(tracker.containerOf({ pid: 31, startMs: undefined }, [{ pid: 30, startMs: undefined }]), null);
    assert.equal(tracker.containerOf({ pid: 99, startMs: undefined }, []), undefined);
  });

  it('a recycled pid is told apart by its start time', () => {
    const world = new Map<number, [number, string]>([[40, [800, `0::/system.slice/docker-${ID}.scope\n`]]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world));
    tracker.observe(40);
    world.set(40, [1200, '0::/user.slice\n']);
    tracker.observe(40);
    // Boot at 1,000,000 ms; 800 ticks = 8 s, 1200 ticks = 12 s.
    assert.equal(tracker.containerOf({ pid: 40, startMs: 1_008_000 }, [])?.id, ID);
    assert.equal(tracker.containerOf({ pid: 40, startMs: 1_012_000 }, []), null);
  });

  it('a process that joins a container before its exec (runc exec) is in that container from then on', () => {
    const world = new Map<number, [number, string]>([[70, [100, '0::/user.slice\n']]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world));
    tracker.observe(70);
    assert.equal(tracker.containerOf({ pid: 70, startMs: undefined }, []), null);
    world.set(70, [100, `0::/libpod_parent/libpod-${ID}\n`]);
    tracker.observe(70);
    assert.equal(tracker.containerOf({ pid: 70, startMs: undefined }, [])?.id, ID);
  });

  it('a pid that changed hands during the read is not recorded', () => {
    const world = new Map<number, [number, string]>([[50, [100, `0::/system.slice/docker-${ID}.scope\n`]]]);
    const proc = fakeProc(world);
    const tracker = new ContainerTracker(undefined, { ...proc, cgroup: (pid, limit) => { const text = proc.cgroup(pid, limit); if (pid === 50) world.set(50, [200, '0::/\n']); return text; } });
    tracker.observe(50);
    assert.equal(tracker.containerOf({ pid: 50, startMs: undefined }, []), undefined);
  });

  /** Cgroup ids -> paths as a walk finds them (the directory of 3787 is gone: only a record's names map it); walks counted. */
  const cgroups = (): CgroupPathResolver & { walked: bigint[] } => {
    const walk = new Map<bigint, string>([[1n, '/'], [3700n, `/libpod_parent/libpod-${ID2}`], [3800n, `/kubepods/besteffort/pod1/${'c'.repeat(64)}/sub`], [3900n, `/user.slice/user-65534.slice/user@65534.service/x/libpod-${ID}`]]);
    const known = new Map<bigint, string>();
    const walked: bigint[] = [];
    return {
      walked,
      peek: (id) => known.get(id),
      pathOf: (id) => { walked.push(id); const p = walk.get(id); if (p !== undefined) known.set(id, p); return p; },
      learn: (id, path) => { const p = known.get(id) ?? path; known.set(id, p); return p; },
    };
  };

  it('a process gone before /proc was read is in the container its EXEC\'s cgroup names (the id, else the names the record carried)', () => {
    const tracker = new ContainerTracker(undefined, fakeProc(new Map()), undefined, cgroups(), () => 5_000);
    tracker.observe(80); // gone: /proc has nothing
    // bpftrace's EXEC: the id alone, walked for.
    tracker.observeCgroup({ pid: 80, startMs: 1_000, atMs: 1_001, id: 3700n, exec: true });
    assert.equal(tracker.containerOf({ pid: 80, startMs: 1_000 }, [{ pid: 1, startMs: undefined }])?.id, ID2);
    // The compiled sensor's EXEC, its directory gone: the names in the record, no walk.
    const paths = cgroups();
    const t2 = new ContainerTracker(undefined, fakeProc(new Map()), undefined, paths, () => 5_000);
    t2.observeCgroup({ pid: 81, startMs: 1_000, atMs: 1_001, id: 3787n, exec: true, leaf: `libpod-${ID}`, parent: 'libpod_parent', level: 2, top: 'libpod_parent' });
    assert.equal(t2.containerOf({ pid: 81, startMs: 1_000 }, [])?.runtime, 'podman');
    assert.equal(t2.containerOf({ pid: 81, startMs: 1_000 }, [])?.id, ID);
    // A child forked there later carries the id alone: mapped by the names learned.
    t2.observeCgroup({ pid: 82, startMs: 1_010, atMs: 1_010, id: 3787n, exec: false });
    assert.equal(t2.containerOf({ pid: 82, startMs: 1_010 }, [])?.id, ID);
    // A FORK of an id not known is not walked for: the child is left to its ancestry.
    t2.observeCgroup({ pid: 83, startMs: 1_020, atMs: 1_020, id: 3700n, exec: false });
    assert.equal(t2.containerOf({ pid: 83, startMs: 1_020 }, [{ pid: 81, startMs: 1_000 }])?.id, ID);
    // An EXEC whose names show a host cgroup: nothing kept, nothing walked.
    t2.observeCgroup({ pid: 84, startMs: 1_030, atMs: 1_030, id: 4000n, exec: true, leaf: 'session-1.scope', parent: 'user-0.slice', level: 3, top: 'user.slice' });
    assert.equal(t2.containerOf({ pid: 84, startMs: 1_030 }, []), undefined);
    // The container's names forged where its runtime never puts them (a delegated subtree): the host, nothing walked.
    t2.observeCgroup({ pid: 87, startMs: 1_031, atMs: 1_031, id: 4001n, exec: true, leaf: `libpod-${ID2}`, parent: 'libpod_parent', level: 3, top: 'tripline-delegated' });
    t2.observeCgroup({ pid: 88, startMs: 1_032, atMs: 1_032, id: 4002n, exec: true, leaf: `libpod-${ID2}`, parent: 'libpod_parent', level: 2, top: 'user.slice' });
    assert.equal(t2.containerOf({ pid: 87, startMs: 1_031 }, []), undefined);
    assert.equal(t2.containerOf({ pid: 88, startMs: 1_032 }, []), undefined);
    assert.equal(t2.containerOf({ pid: 84, startMs: 1_030 }, []), undefined);
    assert.deepEqual(paths.walked, []);
    // The kubelet's cgroupfs layout at its depth: the names tell, no walk.
    t2.observeCgroup({ pid: 89, startMs: 1_035, atMs: 1_035, id: 3801n, exec: true, leaf: 'd'.repeat(64), parent: 'pod1', level: 4, top: 'kubepods' });
    assert.equal(t2.containerOf({ pid: 89, startMs: 1_035 }, [])?.id, 'd'.repeat(64));
    assert.deepEqual(paths.walked, []);
    // A cgroup below a container's, deeper than the names tell: walked for, the whole path decides.
    t2.observeCgroup({ pid: 85, startMs: 1_040, atMs: 1_040, id: 3800n, exec: true, leaf: 'sub', parent: 'c'.repeat(64), level: 5, top: '' });
    assert.equal(t2.containerOf({ pid: 85, startMs: 1_040 }, [])?.runtime, 'kubernetes');
    assert.deepEqual(paths.walked, [3800n]);
    // Deep in a user's delegated subtree, a runtime's name: the walked path is the host's.
    t2.observeCgroup({ pid: 91, startMs: 1_045, atMs: 1_045, id: 3900n, exec: true, leaf: `libpod-${ID}`, parent: 'x', level: 5, top: '' });
    assert.equal(t2.containerOf({ pid: 91, startMs: 1_045 }, []), undefined);
    // An id nothing maps leaves the process to its ancestry.
    t2.observeCgroup({ pid: 86, startMs: 1_050, atMs: 1_050, id: 9999n, exec: true });
    assert.equal(t2.containerOf({ pid: 86, startMs: 1_050 }, [{ pid: 81, startMs: 1_000 }])?.id, ID);
  });

  it('of a FORK (the host runtime) and an EXEC (the container) of one process, the later reading stands, in whatever order they arrive', () => {
    for (const order of [['fork', 'exec'], ['exec', 'fork']]) {
      const tracker = new ContainerTracker(undefined, fakeProc(new Map()), undefined, cgroups(), () => 5_000);
      for (const kind of order) {
        if (kind === 'fork') tracker.observeCgroup({ pid: 90, startMs: 2_000.004, atMs: 2_000.004, id: 1n, exec: false });
        else tracker.observeCgroup({ pid: 90, startMs: 2_000, atMs: 2_003, id: 3700n, exec: true });
      }
      assert.equal(tracker.containerOf({ pid: 90, startMs: 2_000 }, [])?.id, ID2, order.join(' then '));
    }
  });

  it('in a pod\'s cgroup namespace (the DaemonSet on cgroup v2), /proc\'s /../../…/kubepods paths are anchored past the namespace root\'s depth', () => {
    const pod = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/cri-containerd-${ID}.scope`;
    const world = new Map<number, [number, string]>([[1, [1, '0::/../../../init.scope\n']], [70, [700, `0::/../../..${pod}\n`]], [71, [710, `0::/../..${pod}\n`]]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world));
    tracker.observe(70);
    tracker.observe(71);
    assert.equal(tracker.containerOf({ pid: 70, startMs: undefined }, [])?.id, ID);
    assert.equal(tracker.containerOf({ pid: 71, startMs: undefined }, []), null);
  });

  it('a kernel reading of a host cgroup is not kept (a runtime may use the v1 hierarchies alone): /proc and the ancestry decide', () => {
    const world = new Map<number, [number, string]>([[96, [100, `0::/\n4:memory:/docker/${ID}\n`]]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world), undefined, cgroups(), () => 5_000);
    tracker.observe(96);
    tracker.observeCgroup({ pid: 97, startMs: 1_002_000, atMs: 1_002_000, id: 1n, exec: true });
    assert.equal(tracker.containerOf({ pid: 97, startMs: 1_002_000 }, [{ pid: 96, startMs: undefined }])?.id, ID, 'the parent\'s (v1) container');
  });

  it('of /proc and the kernel, the later reading stands (a process moved after its exec; a pid taken over)', () => {
    const world = new Map<number, [number, string]>([[95, [100, '0::/user.slice\n']]]);
    let now = 1_002_000;
    const tracker = new ContainerTracker(undefined, fakeProc(world), undefined, cgroups(), () => now);
    tracker.observeCgroup({ pid: 95, startMs: 1_001_000, atMs: 1_001_500, id: 3700n, exec: true });
    assert.equal(tracker.containerOf({ pid: 95, startMs: 1_001_000 }, [])?.id, ID2);
    tracker.observe(95); // read at 1_002_000: on the host now
    assert.equal(tracker.containerOf({ pid: 95, startMs: 1_001_000 }, []), null);
    now = 1_000_000;
    tracker.observeCgroup({ pid: 95, startMs: 1_001_000, atMs: 1_003_000, id: 3700n, exec: true });
    assert.equal(tracker.containerOf({ pid: 95, startMs: 1_001_000 }, [])?.id, ID2);
  });

  it('withContainers fills the subject, ancestry and members', () => {
    const world = new Map<number, [number, string]>([[60, [100, `0::/system.slice/docker-${ID}.scope\n`]], [61, [110, '0::/\n']]]);
    const tracker = new ContainerTracker(undefined, fakeProc(world));
    tracker.observe(60);
    tracker.observe(61);
    const proc = (pid: number): DetectionProcess => ({ pid, ppid: null, exe: null, comm: 'x', argv: [], argvTruncated: false, cwd: null, uid: null, start: null, exit: null });
    const d = withContainers({ subject: { process: proc(62), ancestry: [proc(60), proc(61)], members: [proc(63)] } }, tracker);
    assert.equal(d.subject.process.container?.id, ID, 'not read: the parent\'s');
    assert.equal(d.subject.ancestry[0]?.container?.runtime, 'docker');
    assert.equal(d.subject.ancestry[1]?.container, null);
    assert.equal(d.subject.members[0]?.container?.id, ID);
    assert.deepEqual(d.subject.ancestry[0].namespaces, { pid: 4026530060, mnt: 4026530060 });
    assert.equal('namespaces' in d.subject.process, false);
  });
});
