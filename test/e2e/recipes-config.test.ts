// End to end: recipes as data. A user recipe from a directory named in tripline.yaml fires
// on a real program; an exception in tripline.yaml silences a real program (procps sysctl -a)
// and the report says so; explain, validate, show, list and config show on real files.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cleanEnv, describeRun, E2E_SENSOR, runCli, runTripline, TEST_TIMEOUT, withTempDir, RECIPE_ID, REPO_DIR } from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };

/** A user recipe on another tree than /proc/sys/net: several account databases read by one process. */
const ACCOUNT_RECIPE = readFileSync(new URL('../fixtures/recipes/good-account-db-survey.yaml', import.meta.url), 'utf8');

void describe('recipes and configuration, end to end', () => {
  void test('a user recipe in a directory named by tripline.yaml fires on a real program', opts, () => withTempDir(async (dir) => {
    mkdirSync(join(dir, 'team-recipes'));
    writeFileSync(join(dir, 'team-recipes', 'account.yaml'), ACCOUNT_RECIPE);
    writeFileSync(join(dir, 'tripline.yaml'), 'recipes:\n  directories: [team-recipes]\n');
    // Two files only: below the threshold of 3 files.
    const two = await runTripline(['cat', '/etc/passwd', '/etc/group'], { dir });
    assert.equal(two.detections.length, 0, describeRun(two));
    const r = await runTripline(['sh', '-c', 'cat /etc/passwd /etc/group /etc/hostname >/dev/null; cat /etc/passwd /etc/group /etc/shadow >/dev/null 2>&1'], { dir });
    assert.equal(r.exitCode, 0, describeRun(r));
    const ours = r.detections.filter((d) => d.recipe.id === 'account_db_survey');
    assert.equal(ours.length, 1, describeRun(r));
    const d = ours[0];
    assert.ok(d);
    assert.equal(d.evidence.unit, 'files');
    assert.equal(d.recipe.importance, 'medium');
    assert.equal(d.subject.process.comm, 'cat');
    assert.deepEqual(d.evidence.files.filter((f) => f.counted).map((f) => f.path).sort(), ['/etc/group', '/etc/passwd', '/etc/shadow']);
    assert.ok(!d.evidence.files.some((f) => f.path === '/etc/hostname' && f.counted), 'include keeps /etc/hostname from counting');
  }));

  // The compiled eBPF sensor matches the recipes' other roots against absolute paths in the kernel.
  const relativeOpts = E2E_SENSOR === 'ebpf' ? { ...opts, skip: 'known limit of the eBPF sensors: relative paths in a user recipe\'s tree other than /proc/sys/net (docs/sensors.md)' } : opts;
  void test('a user recipe fires on relative reads after cd into its tree', relativeOpts, () => withTempDir(async (dir) => {
    mkdirSync(join(dir, 'team-recipes'));
    writeFileSync(join(dir, 'team-recipes', 'account.yaml'), ACCOUNT_RECIPE);
    writeFileSync(join(dir, 'tripline.yaml'), 'recipes:\n  directories: [team-recipes]\n');
    const r = await runTripline(['sh', '-c', 'cd /etc && cat passwd group shadow >/dev/null 2>&1; true'], { dir });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.equal(r.detections.filter((d) => d.recipe.id === 'account_db_survey').length, 1, describeRun(r));
  }));

  void test('an exception in tripline.yaml silences procps sysctl -a, and only it', opts, () => withTempDir(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), [
      'exceptions:',
      `  - recipe: ${RECIPE_ID}`,
      '    name: nightly sysctl audit',
      '    reason: the audit step dumps every setting on purpose',
      '    exe: /sbin/sysctl            # /usr/sbin/sysctl on a merged /usr; both match',
      '    argv: "sysctl -a"',
      '',
    ].join('\n'));
    const silenced = await runTripline(['sysctl', '-a'], { dir });
    assert.equal(silenced.exitCode, 0, describeRun(silenced));
    assert.equal(silenced.detections.length, 0, describeRun(silenced));
    assert.match(silenced.stderr, /exception "os_network_fingerprint: nightly sysctl audit" applied to \d+ access/);
    // The same program with other arguments is not excepted (argv is anchored).
    const other = await runTripline(['sysctl', 'net'], { dir });
    assert.equal(other.detections.filter((d) => d.recipe.id === RECIPE_ID).length, 1, describeRun(other));
    // A script copied elsewhere under the same name is not excepted either (exe is anchored).
    const copy = join(dir, 'sysctl');
    const cp = await runCli(['run', '--', 'cp', '/usr/sbin/sysctl', copy], { cwd: dir });
    assert.equal(cp.exitCode, 0, cp.stderr);
    const renamed = await runTripline([copy, '-a'], { dir });
    assert.equal(renamed.detections.filter((d) => d.recipe.id === RECIPE_ID).length, 1, describeRun(renamed));
  }));

  const SYSTEMD_SYSCTL = '/usr/lib/systemd/systemd-sysctl';
  const noSystemdSysctl = !existsSync(SYSTEMD_SYSCTL) ? `${SYSTEMD_SYSCTL} is not installed`
    : process.getuid?.() !== 0 ? 'needs root for a private network namespace (unshare -n)' : false;
  void test('the default systemd-sysctl exception is anchored: the real binary run by hand is still reported', { ...opts, skip: noSystemdSysctl }, () => withTempDir(async (dir) => {
    // Settings in 3 directories, applied in a private network namespace so the host is untouched.
    writeFileSync(join(dir, 'net.conf'), 'net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.rp_filter = 2\nnet.core.somaxconn = 1024\nnet.ipv6.conf.all.disable_ipv6 = 0\n');
    const r = await runTripline(['unshare', '-n', SYSTEMD_SYSCTL, join(dir, 'net.conf')], { dir });
    assert.equal(r.exitCode, 0, describeRun(r));
    const d = r.detections.find((x) => x.recipe.id === RECIPE_ID);
    assert.ok(d, describeRun(r));
    assert.equal(d.subject.process.exe, SYSTEMD_SYSCTL);
    assert.ok(d.evidence.directoryCount >= 3, describeRun(r));
    assert.equal(d.evidence.configurationChanged, true, 'it opens every key read-write');
  }));

  const notRoot = process.getuid?.() !== 0 ? 'needs root for a private mount namespace (unshare -m)' : false;
  void test('an exception on an executable path is not met by another binary bind-mounted over that path in a private mount namespace', { ...opts, skip: notRoot }, () => withTempDir(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), 'exceptions:\n  - name: sysctl\n    reason: expected\n    exe: /usr/sbin/sysctl\n');
    const files = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'].map((f) => `/proc/sys/net/${f}`).join(' ');
    // cat, run under the excepted path: the path matches, the file does not.
    const r = await runTripline(['unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount --bind /usr/bin/cat /usr/sbin/sysctl && exec /usr/sbin/sysctl ${files}`], { dir });
    assert.equal(r.exitCode, 0, describeRun(r));
    const d = r.detections.find((x) => x.recipe.id === RECIPE_ID);
    assert.ok(d, describeRun(r));
    assert.equal(d.subject.process.exe, '/usr/sbin/sysctl');
    // The real sysctl is still excepted.
    const real = await runTripline(['sysctl', 'net.core.somaxconn', 'net.ipv4.ip_forward', 'net.unix.max_dgram_qlen'], { dir });
    assert.equal(real.detections.length, 0, describeRun(real));
  }));

  void test('a broken user recipe is reported with its place and never disables the built-ins', opts, () => withTempDir(async (dir) => {
    mkdirSync(join(dir, 'r'));
    writeFileSync(join(dir, 'r', 'broken.yaml'), ACCOUNT_RECIPE.replace('threshold: 3', 'treshold: 3'));
    const r = await runTripline(['sysctl', 'net'], { dir, env: cleanEnv({ TRIPLINE_RECIPE_DIRS: 'r' }) });
    assert.match(r.stderr, /broken\.yaml:14:3: error\[unknown-key\]: unknown key "treshold" in aggregate\n\s+hint: did you mean "threshold"\?/);
    assert.equal(r.detections.filter((d) => d.recipe.id === RECIPE_ID).length, 1, describeRun(r));
  }));

  void test('a configuration file with errors stops the run with exit 78 and every problem', opts, () => withTempDir(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), 'fail_on: hihg\nrecipes:\n  disabeld: [x]\nexceptions:\n  - name: any sysctl\n    reason: r\n    exe: sysctl\n');
    const r = await runCli(['run', '--', 'true'], { cwd: dir });
    assert.equal(r.exitCode, 78, r.stderr);
    assert.match(r.stderr, /tripline\.yaml:1:10: error\[bad-value\]: fail_on is the string "hihg"; use one of never, low, medium, high, critical\n\s+hint: did you mean "high"\?/);
    assert.match(r.stderr, /tripline\.yaml:3:3: error\[unknown-key\]: unknown key "disabeld" in recipes\n\s+hint: did you mean "disabled"\?/);
    assert.match(r.stderr, /tripline\.yaml:7:10: error\[bad-value\]: exceptions\[0\]\.exe is the string "sysctl"/);
  }));

  void test('recipes explain shows what counted, what did not and why, and the verdict', opts, () => withTempDir(async (dir) => {
    const r = await runCli(['recipes', 'explain', RECIPE_ID, '--sensor', 'ptrace', '--', 'sh', '-c',
      'cat /proc/sys/net/core/somaxconn /proc/sys/net/nonexistent 2>/dev/null; cat /proc/sys/net/ipv4/ip_forward'], { cwd: dir });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /counts for \/proc\/sys\/net\/core/);
    assert.match(r.stdout, /\/proc\/sys\/net\/nonexistent {2}\[read ENOENT\] {2}failed with ENOENT, one of match\.probe_errors/);
    assert.match(r.stdout, /with its children: silent: at most 2 distinct directories within 10 s, 3 needed/);
    assert.match(r.stdout, /verdict: os_network_fingerprint stayed silent/);
  }));

  void test('recipes validate: exit 1 with diagnostics for a bad file, 0 for the built-in', opts, async () => {
    const bad = await runCli(['recipes', 'validate', 'test/fixtures/recipes/bad-many-problems.yaml'], { cwd: REPO_DIR });
    assert.equal(bad.exitCode, 1, bad.stderr);
    assert.match(bad.stdout, /1 file\(s\): 0 recipe\(s\) valid, 13 error\(s\)/);
    const good = await runCli(['recipes', 'validate', 'test/fixtures/recipes/good-ssh-config-survey.yaml'], { cwd: REPO_DIR });
    assert.equal(good.exitCode, 0, good.stderr);
  });

  void test('recipes show prints the recipe as YAML with the configured exceptions; config show says where values come from', opts, () => withTempDir(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), `environment: staging\nexceptions:\n  - name: netdata\n    reason: monitoring agent\n    exe: /usr/sbin/netdata\n    parent_exe: /usr/lib/systemd/systemd\n`);
    const show = await runCli(['recipes', 'show', RECIPE_ID], { cwd: dir });
    assert.equal(show.exitCode, 0, show.stderr);
    assert.match(show.stdout, /^id: os_network_fingerprint$/m);
    assert.match(show.stdout, /threshold: 3/);
    assert.match(show.stdout, /# from .*tripline\.yaml:3\n\s+- name: netdata/);
    const cfg = await runCli(['config', 'show'], { cwd: dir, env: cleanEnv({ TRIPLINE_FAIL_ON: 'medium' }) });
    assert.equal(cfg.exitCode, 0, cfg.stderr);
    assert.match(cfg.stdout, /environment: staging\s+# .*tripline\.yaml:1:14/);
    assert.match(cfg.stdout, /fail_on: medium\s+# TRIPLINE_FAIL_ON/);
    assert.match(cfg.stdout, /sensor: auto\s+# default/);
  }));
});
