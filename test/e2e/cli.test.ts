// End to end: the tripline command line itself: exit codes, untouched stdio, signal
// forwarding, --fail-on, --environment, --quiet, a missing strace, and `tripline demo`.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEMO_SCRIPT } from '../../src/cli/demo-command.ts';
import {
  assertSilent, cleanEnv, NET, onlyFingerprint, pause, RECIPE_ID, runCli, runTripline, TEST_TIMEOUT, THREE_FILES,
  waitForFile, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const NOTICE = /tripline: os_network_fingerprint \(low\)/;
const LOOP = `for k in ${THREE_FILES.join(' ')}; do cat ${NET}/$k >/dev/null; done`;

void describe('cli: exit codes and stdio', () => {
  void test('run -- sh -c "exit 7" exits 7', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', 'exit 7'], { dir });
    assert.equal(r.exitCode, 7, r.stderr);
    assertSilent(r);
    assert.match(r.stderr, /\(exit 7,/);
  }));

  void test('a command killed by SIGTERM exits 143', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', 'kill -TERM $$'], { dir });
    assert.equal(r.exitCode, 143, r.stderr);
    assert.match(r.stderr, /killed by SIGTERM/);
  }));

  void test('a command killed by SIGKILL exits 137', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', 'kill -KILL $$'], { dir });
    assert.equal(r.exitCode, 137, r.stderr);
  }));

  void test('stdin and stdout are untouched: printf abc | tripline run -- cat prints exactly abc', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['cat'], { dir, input: 'abc' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'abc');
    assert.match(r.stderr, /^tripline: 0 detections in cat /m);
  }));

  void test('with a detection, the notice and report go to stderr only; stdout is the command\'s', opts, () => withTempDir(async (dir) => {
    const files = THREE_FILES.map((f) => `${NET}/${f}`);
    const r = await runTripline(['cat', ...files], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, files.map((f) => readFileSync(f, 'utf8')).join(''));
    assert.doesNotMatch(r.stdout, /tripline/);
    assert.match(r.stderr, NOTICE);
    assert.match(r.stderr, /^tripline: 1 detection in cat /m);
    assert.match(r.stderr, /● os_network_fingerprint/);
    onlyFingerprint(r);
  }));

  void test('SIGTERM sent to tripline reaches the command', opts, () => withTempDir(async (dir) => {
    const marker = join(dir, 'running');
    const script = `trap "exit 42" TERM; : > ${marker}; while :; do sleep 0.05; done`;
    let triplinePid: number | undefined;
    const pending = runTripline(['sh', '-c', script], { dir, onSpawn: (child) => { triplinePid = child.pid; } });
    await waitForFile(marker);
    // Give strace a moment to start the command, so the signal finds the trap already set.
    await pause(250);
    assert.ok(triplinePid !== undefined);
    process.kill(triplinePid, 'SIGTERM');
    const r = await pending;
    assert.equal(r.signal, null, 'tripline itself was not killed by the signal');
    assert.equal(r.exitCode, 42, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.match(r.stderr, /\(exit 42,/);
  }));

  void test('SIGINT sent to tripline reaches the command', opts, () => withTempDir(async (dir) => {
    const marker = join(dir, 'running');
    const script = `trap "exit 43" INT; : > ${marker}; while :; do sleep 0.05; done`;
    let triplinePid: number | undefined;
    const pending = runTripline(['sh', '-c', script], { dir, onSpawn: (child) => { triplinePid = child.pid; } });
    await waitForFile(marker);
    await pause(250);
    assert.ok(triplinePid !== undefined);
    process.kill(triplinePid, 'SIGINT');
    const r = await pending;
    assert.equal(r.exitCode, 43, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/);
  }));
});

/** The children of `pid` (all its threads), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter((x) => x !== '').map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** Busy-waits (up to 5 s) until tripline has spawned the strace that writes to its FIFO; returns its pid. */
function waitForTracer(triplinePid: number): number {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    for (const child of childrenOf(triplinePid)) {
      try {
        const cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8');
        if (cmdline.includes('trace.fifo') && cmdline.includes('-yy')) return child;
      } catch {
        // gone (the strace -V probes are short-lived)
      }
    }
  }
  assert.fail('tripline did not start strace within 5 s');
}

void test('a tracer that dies while the command runs is reported, with exit 69', opts, () => withTempDir(async (dir) => {
  const marker = join(dir, 'started');
  let triplinePid: number | undefined;
  const pending = runTripline(['sh', '-c', `: > ${marker}; sleep 0.5; exit 0`], { dir, options: ['--sensor', 'ptrace'], onSpawn: (child) => { triplinePid = child.pid; } });
  assert.ok(triplinePid !== undefined);
  const tracer = waitForTracer(triplinePid);
  await waitForFile(marker);
  process.kill(tracer, 'SIGKILL');
  const r = await pending;
  assert.equal(r.exitCode, 69, r.stderr);
  assert.match(r.stderr, /the tracer \(strace\) died with SIGKILL/);
  assert.doesNotMatch(r.stderr, /internal error/);
}));

void test('a SIGTERM that reaches tripline before strace\'s first line is read still reaches the command',
  opts,
  () => withTempDir(async (dir) => {
    // The command traps TERM (exit 42) and otherwise gives up after about 1 s with exit 9.
    const script = 'trap "exit 42" TERM; i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; exit 9';
    let triplinePid: number | undefined;
    const pending = runTripline(['sh', '-c', script], { dir, options: ['--sensor', 'ptrace'], onSpawn: (child) => { triplinePid = child.pid; } });
    assert.ok(triplinePid !== undefined);
    waitForTracer(triplinePid);
    process.kill(triplinePid, 'SIGTERM');
    const r = await pending;
    // The signal may land before the shell has set its trap (143, killed by TERM) or after (42);
    // either way it reached the command. 9 would mean it was lost.
    assert.ok(r.exitCode === 42 || r.exitCode === 143, `the command did not get the signal (exit ${String(r.exitCode)}); ${r.stderr}`);
  }));

void describe('cli: --fail-on', () => {
  void test('--fail-on low exits 77 when the demo-like script fires', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', DEMO_SCRIPT, 'demo-like'], { dir, options: ['--fail-on', 'low'] });
    assert.equal(r.exitCode, 77, r.stderr);
    assert.match(r.stderr, /failing: detections at or above "low" \(--fail-on\); the command itself ended with exit 0/);
    assert.equal(onlyFingerprint(r).recipe.importance, 'low');
  }));

  void test('--fail-on low keeps the command\'s code when silent', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', `cat ${NET}/core/somaxconn >/dev/null; exit 3`], { dir, options: ['--fail-on', 'low'] });
    assertSilent(r);
    assert.equal(r.exitCode, 3, r.stderr);
    const ok = await runTripline(['true'], { dir, options: ['--fail-on=low'] });
    assert.equal(ok.exitCode, 0, ok.stderr);
  }));

  void test('--fail-on medium does not fail on a low detection', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', `${LOOP}; exit 5`], { dir, options: ['--fail-on', 'medium'] });
    onlyFingerprint(r);
    assert.equal(r.exitCode, 5, r.stderr);
  }));

  void test('--fail-on bogus exits 64 with a message naming --fail-on', opts, async () => {
    const r = await runCli(['run', '--fail-on', 'bogus', '--', 'true']);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /--fail-on/);
    assert.match(r.stderr, /bogus/);
  });
});

void describe('cli: usage errors and a missing strace', () => {
  void test('an unknown option exits 64', opts, async () => {
    const r = await runCli(['run', '--no-such-option', '--', 'true']);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /unknown option --no-such-option/);
  });

  void test('run with no command exits 64', opts, async () => {
    for (const args of [['run'], ['run', '--'], ['run', '--quiet']]) {
      const r = await runCli(args);
      assert.equal(r.exitCode, 64, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /no command given/);
    }
  });

  void test('an unknown command and a value-less option exit 64', opts, async () => {
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.exitCode, 64);
    const noValue = await runCli(['run', '--jsonl']);
    assert.equal(noValue.exitCode, 64);
    assert.match(noValue.stderr, /--jsonl needs a value/);
  });

  void test('TRIPLINE_STRACE=/nonexistent/strace exits 69 with the install hint', opts, async () => {
    const r = await runCli(['run', '--sensor', 'ptrace', '--', 'true'], { env: cleanEnv({ TRIPLINE_STRACE: '/nonexistent/strace' }) });
    assert.equal(r.exitCode, 69, r.stderr);
    assert.match(r.stderr, /apt-get install -y strace/);
    assert.doesNotMatch(r.stderr, /internal error/);
  });

  void test('a relative TRIPLINE_STRACE exits 69 (strace is never looked up on PATH) with the install hint', opts, async () => {
    const r = await runCli(['run', '--sensor', 'ptrace', '--', 'true'], { env: cleanEnv({ TRIPLINE_STRACE: 'strace' }) });
    assert.equal(r.exitCode, 69, r.stderr);
    assert.match(r.stderr, /TRIPLINE_STRACE=strace is not an absolute path/);
    assert.match(r.stderr, /apt-get install -y strace/);
  });
});

void describe('cli: --environment', () => {
  void test('--environment ci: kind ci and guidance with exactly 3 actions', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', LOOP], { dir, options: ['--environment', 'ci'] });
    const d = onlyFingerprint(r);
    assert.equal(d.environment.kind, 'ci');
    assert.equal(d.environment.source, '--environment');
    assert.equal(d.guidance.environment, 'ci');
    assert.equal(d.guidance.actions.length, 3);
  }));

  void test('GitHub Actions variables (no flag): kind ci with the repository', opts, () => withTempDir(async (dir) => {
    const env = cleanEnv({
      GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '5', GITHUB_WORKFLOW: 'CI', GITHUB_JOB: 'build',
    });
    const r = await runTripline(['sh', '-c', LOOP], { dir, env });
    const d = onlyFingerprint(r);
    assert.equal(d.environment.kind, 'ci');
    assert.ok(d.environment.ci !== null);
    assert.equal(d.environment.ci.provider, 'github-actions');
    assert.equal(d.environment.ci.repository, 'o/r');
    assert.equal(d.environment.ci.runId, '5');
    assert.equal(d.environment.ci.url, 'https://github.com/o/r/actions/runs/5');
    assert.equal(d.guidance.actions.length, 3);
    assert.match(d.guidance.implications, /job "build" of workflow "CI" of o\/r \(run 5\)/);
  }));

  void test('no flag and no CI variables: kind unknown', opts, () => withTempDir(async (dir) => {
    const d = onlyFingerprint(await runTripline(['sh', '-c', LOOP], { dir }));
    assert.equal(d.environment.kind, 'unknown');
    assert.equal(d.environment.ci, null);
  }));

  void test('--environment staging and production give different implications', opts, () => withTempDir(async (dir) => {
    const staging = onlyFingerprint(await runTripline(['sh', '-c', LOOP], { dir, options: ['--environment', 'staging'] }));
    const production = onlyFingerprint(await runTripline(['sh', '-c', LOOP], { dir, options: ['--environment', 'production'] }));
    assert.equal(staging.environment.kind, 'staging');
    assert.equal(production.environment.kind, 'production');
    assert.notEqual(staging.guidance.implications, production.guidance.implications);
    assert.notDeepEqual(staging.guidance.actions, production.guidance.actions);
    // The guidance is filled with this detection's facts, not left as a template.
    for (const d of [staging, production]) {
      assert.doesNotMatch(d.guidance.implications, /\{[a-zA-Z]+\}/);
      assert.match(d.guidance.implications, new RegExp(`pid ${d.subject.process.pid}`));
    }
  }));

  void test('--environment nope exits 64', opts, async () => {
    const r = await runCli(['run', '--environment', 'nope', '--', 'true']);
    assert.equal(r.exitCode, 64);
    assert.match(r.stderr, /--environment: "nope" is not valid; use auto, ci, staging, production, development or unknown/);
  });
});

void describe('cli: demo and --quiet', () => {
  void test('tripline demo exits 0 and prints the notice on stderr', opts, () => withTempDir(async (dir) => {
    const r = await runCli(['demo'], { cwd: dir });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, NOTICE);
    assert.doesNotMatch(r.stdout, NOTICE);
    assert.match(r.stdout, /^demo: reading a few kernel network settings/);
  }));

  void test('--quiet prints no report, but the JSONL is still written', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', LOOP], { dir, options: ['--quiet'] });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.recipe.id, RECIPE_ID);
    assert.doesNotMatch(r.stderr, NOTICE);
    assert.doesNotMatch(r.stderr, /●|meaning|detections? in /);
    assert.equal(r.stderr, 'tripline: 1 detection(s)\n');
  }));

  void test('--quiet with nothing detected prints nothing at all', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['true'], { dir, options: ['-q'] });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stderr, '');
    assertSilent(r);
  }));
});
