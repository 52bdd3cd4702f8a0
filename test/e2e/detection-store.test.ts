// End to end: a real `tripline run` records its detection and the sensor's health in the
// detection store, and `tripline detections list/show/export/stats` read them back; as another
// user, the default store is made under $XDG_STATE_HOME (never the machine's /var/lib), and
// --no-store makes none.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Detection } from '../../src/model/detection.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { replayFixture } from '../replay-strace-fixture.ts';
import { cleanEnv, describeRun, IS_ROOT, onlyFingerprint, runCli, runTripline, TRIPLINE_BIN, withTempDir } from './run-tripline.ts';

const NOBODY = 65534;
/** Reads nine settings in three directories of /proc/sys/net. */
const READER = ['sh', '-c', 'cat /proc/sys/net/core/somaxconn /proc/sys/net/core/netdev_max_backlog /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/tcp_syncookies /proc/sys/net/unix/max_dgram_qlen > /dev/null'];

interface Listed {
  readonly id: string;
  readonly revision: number;
  readonly state: string;
  readonly detection: Detection;
}

void test('run writes its detection to --store; detections list, show, export and stats read it back', { timeout: 240_000 }, async () => {
  await withTempDir(async (dir) => {
    const r = await runTripline(READER, { dir });
    const made = onlyFingerprint(r);
    const store = r.storePath;
    assert.ok(store !== undefined);
    assert.equal(statSync(store).mode & 0o777, 0o600);

    const list = await runCli(['detections', 'list', '--json', '--store', store]);
    assert.equal(list.exitCode, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as Listed[];
    assert.deepEqual(listed.map((l) => l.id), [made.id], describeRun(r));
    const stored = listed[0];
    assert.ok(stored !== undefined);
    assert.equal(stored.state, 'closed', 'the final revision is the current one');
    // What the store holds is what the JSONL file's final revision says.
    assert.deepEqual(stored.detection, made);

    const filtered = await runCli(['detections', 'list', '--json', '--store', store, '--recipe', 'credential_files']);
    assert.deepEqual(JSON.parse(filtered.stdout), []);

    const show = await runCli(['detections', 'show', made.id, '--store', store]);
    assert.equal(show.exitCode, 0, show.stderr);
    assert.match(show.stdout, /revision \d+ \(closed\)/);
    assert.match(show.stdout, /● os_network_fingerprint/);
    assert.ok(show.stdout.includes(`id ${made.id}`), show.stdout);
    assert.match(show.stdout, /\/proc\/sys\/net\/ipv4\/ip_forward/);

    const jsonl = join(dir, 'export.jsonl');
    const exported = await runCli(['detections', 'export', '--format', 'jsonl', '--output', jsonl, '--store', store]);
    assert.equal(exported.exitCode, 0, exported.stderr);
    assert.deepEqual(readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as Detection).id), [made.id]);

    const stats = await runCli(['detections', 'stats', '--json', '--store', store]);
    assert.equal((JSON.parse(stats.stdout) as { total: number }).total, 1);

    // The sensor's health at the end of the run, for this host.
    const s = openDetectionStore({ path: store, create: false });
    try {
      const health = s.listHealth();
      assert.equal(health.length, 1);
      const h = health[0];
      assert.ok(h !== undefined);
      assert.equal(h.source, 'run');
      assert.equal(h.host, made.host.hostname);
      assert.ok(h.lines > 0, 'the sensor read lines');
      assert.equal(h.detections, 1);
    } finally {
      s.close();
    }
  });
});

void test('an unknown id, an absent store and a bad filter are said clearly, exit 64', { timeout: 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const absent = await runCli(['detections', 'list', '--store', join(dir, 'none.db')]);
    assert.equal(absent.exitCode, 64);
    assert.match(absent.stderr, /detection store .*none\.db: no store there/);
    assert.ok(!existsSync(join(dir, 'none.db')), 'a reader creates nothing');
    const bad = await runCli(['detections', 'list', '--importance', 'severe', '--store', join(dir, 'none.db')]);
    assert.equal(bad.exitCode, 64);
    assert.match(bad.stderr, /--importance "severe" is not one of low, medium, high, critical/);
    const store = join(dir, 'tripline.db');
    openDetectionStore({ path: store, create: true }).close();
    const unknown = await runCli(['detections', 'show', 'no-such-id', '--store', store]);
    assert.equal(unknown.exitCode, 64);
    assert.match(unknown.stderr, /no detection "no-such-id" in .*tripline\.db/);
  });
});

void test('list and show print a process\'s hostile strings escaped: no escape sequence or bidi override reaches the terminal', { timeout: 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = join(dir, 'tripline.db');
    const base = replayFixture('sysctl-a.strace').closed[0] as Detection;
    const hostile = '\u001b]0;owned\u0007\u001b[2J\u202eevil';
    const d: Detection = {
      ...base, id: `id${hostile}`,
      host: { ...base.host, hostname: `host${hostile}` },
      subject: { ...base.subject, process: { ...base.subject.process, comm: hostile, argv: [`sysctl${hostile}`, '-a'], cwd: `/tmp/${hostile}` } },
      guidance: { ...base.guidance, implications: `it${hostile}`, actions: [`do${hostile}`] },
    };
    const s = openDetectionStore({ path: store, create: true });
    s.record({ detection: d, revision: 1, state: 'open' });
    s.close();
    for (const argv of [['detections', 'list'], ['detections', 'show', d.id], ['detections', 'stats']]) {
      const r = await runCli([...argv, '--store', store]);
      assert.equal(r.exitCode, 0, `${argv.join(' ')}: ${r.stderr}`);
      for (const c of ['\u001b', '\u0007', '\u202e']) assert.ok(!r.stdout.includes(c) && !r.stderr.includes(c), `${argv.join(' ')} printed U+${c.charCodeAt(0).toString(16)}`);
      assert.ok(r.stdout.includes('\\x1b]0;owned\\x07'), `${argv.join(' ')} shows it escaped: ${r.stdout.slice(0, 400)}`);
    }
  });
});

const asNobody = { skip: !IS_ROOT || spawnSync('setpriv', ['--version']).status !== 0 ? 'needs root and setpriv' : false, timeout: 240_000 } as const;

/** `tripline run` as uid 65534 with this XDG_STATE_HOME and no store option: the default location for a user. */
function runAsNobody(dir: string, state: string, extra: readonly string[]): { status: number | null; stderr: string } {
  const env = cleanEnv({ TRIPLINE_STORE: undefined, XDG_STATE_HOME: state, HOME: dir });
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, TRIPLINE_BIN, 'run', '--sensor', 'ptrace', '--quiet', ...extra, '--', ...READER],
    { encoding: 'utf8', env, cwd: dir, timeout: 200_000 });
  return { status: r.status, stderr: r.stderr };
}

void test('as another user, the default store is $XDG_STATE_HOME/tripline/tripline.db (0700, 0600); --no-store makes none', asNobody, async () => {
  await withTempDir((dir) => {
    chownSync(dir, NOBODY, NOBODY);
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, NOBODY, NOBODY);

    const none = runAsNobody(dir, state, ['--no-store']);
    assert.equal(none.status, 0, none.stderr);
    assert.ok(!existsSync(join(state, 'tripline')), '--no-store made no store');

    const r = runAsNobody(dir, state, []);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    const store = join(state, 'tripline', 'tripline.db');
    const dirSt = statSync(join(state, 'tripline'));
    assert.equal(dirSt.mode & 0o777, 0o700);
    assert.equal(dirSt.uid, NOBODY);
    const fileSt = statSync(store);
    assert.equal(fileSt.mode & 0o777, 0o600);
    assert.equal(fileSt.uid, NOBODY);
    // Read back as that user, from the default location too (as root the directory would be
    // refused: a directory of uid 65534 in the world-writable /tmp is one root must not trust).
    const listed = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, TRIPLINE_BIN, 'detections', 'list', '--json'],
      { encoding: 'utf8', env: cleanEnv({ TRIPLINE_STORE: undefined, XDG_STATE_HOME: state, HOME: dir }), cwd: dir });
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as Listed[]).length, 1);
    const asRoot = spawnSync(process.execPath, [TRIPLINE_BIN, 'detections', 'list', '--store', store], { encoding: 'utf8', env: cleanEnv() });
    assert.equal(asRoot.status, 64);
    assert.match(asRoot.stderr, /belongs to uid 65534 and sits in the world-writable directory \/tmp/);
    return Promise.resolve();
  });
});

void test('a store another user could redirect is warned about once, and the detection still reaches the other outputs', { timeout: 240_000 }, async () => {
  await withTempDir(async (dir) => {
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o777 });
    // mkdir's mode is cut by the umask: made group- and world-writable explicitly.
    spawnSync('chmod', ['0777', shared]);
    const r = await runTripline(READER, { dir, options: ['--store', join(shared, 'tripline.db')] });
    onlyFingerprint(r);
    assert.equal(r.stderr.match(/tripline: warning: detection store /g)?.length, 1, r.stderr);
    assert.match(r.stderr, /shared can be written by others \(mode 0777\).*detections are not stored \(from --store\)/);
    assert.ok(!existsSync(join(shared, 'tripline.db')));
  });
});
