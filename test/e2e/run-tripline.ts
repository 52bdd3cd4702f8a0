// Shared helper of the end-to-end tests: runs the real tripline CLI (bin/tripline.js, which
// imports dist/, so `npm run build` must have run) under the real strace, captures its exit,
// stdout and stderr, and parses the --jsonl output into detections (revisions folded by id, the
// highest revision winning, as every reader of the file must; the raw lines are kept too).

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Detection } from '../../src/model/detection.ts';

export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const TRIPLINE_BIN = join(REPO_DIR, 'bin', 'tripline.js');
export const NET = '/proc/sys/net';
export const RECIPE_ID = 'os_network_fingerprint';

/** Three settings in three directories that exist on every Linux host with networking. */
export const THREE_FILES = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'] as const;
export const THREE_DIRS = [`${NET}/core`, `${NET}/ipv4`, `${NET}/unix`] as const;

/** Whether the compiled eBPF sensor can run here (x86_64 with BTF); root is checked by the eBPF variants. */
const COMPILED_SENSOR_RUNS = process.arch === 'x64' && existsSync('/sys/kernel/btf/vmlinux');

/** Variables that would make tripline decide the environment by itself (the tests may run in CI). */
const ENVIRONMENT_VARIABLES = [
  /^CI$/, /^GITHUB_/, /^GITLAB_CI$/, /^CI_/, /^BUILDKITE/, /^CIRCLE/, /^JENKINS_URL$/, /^TF_BUILD$/, /^BUILD_/,
  /^TRIPLINE_/, /^NO_COLOR$/,
];

/** The test's environment without CI markers and TRIPLINE_* variables, plus `extra` (undefined removes). */
export function cleanEnv(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !ENVIRONMENT_VARIABLES.some((re) => re.test(k))) env[k] = v;
  }
  // Which eBPF program the eBPF variants run: bpftrace where test/e2e-bpftrace pins it, else the
  // compiled sensor wherever it can run, without the silent fallback a user gets (a program the
  // kernel refuses must fail the tests, not pass them on bpftrace).
  env.TRIPLINE_EBPF_PROGRAM = process.env.TRIPLINE_E2E_EBPF_PROGRAM ?? (COMPILED_SENSOR_RUNS ? 'compiled' : 'auto');
  // No detection store unless a test gives one (runTripline gives each run its own in its temp
  // dir): the tests run as root, and must not write the machine's /var/lib/tripline/tripline.db.
  env.TRIPLINE_STORE = 'off';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) Reflect.deleteProperty(env, k);
    else env[k] = v;
  }
  return env;
}

export interface CliResult {
  /** Exit code, or null when a signal ended tripline itself. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** True when tripline had to be killed (with its process group) after `timeoutMs`. */
  readonly timedOut: boolean;
}

/** SIGKILL to the process group of a child spawned with `detached: true`. */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface TriplineResult extends CliResult {
  /** Every detection of the --jsonl file, each once: its highest revision. */
  readonly detections: Detection[];
  /** Every line of the --jsonl file, in order (several revisions of one detection when streamed). */
  readonly revisions: Detection[];
  readonly jsonlPath: string;
  /** The run's detection store (in its temp dir), unless the test chose its own or none. */
  readonly storePath: string | undefined;
}

export interface CliOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to tripline's stdin, then closed; stdin is /dev/null when not given. */
  readonly input?: string;
  /**
   * tripline's process group is sent SIGKILL after this long, 60 s by default (a hang must
   * fail, not stall the suite; a loaded machine makes a 1 s run take 10 s, and bpftrace's
   * attach 30 s and more).
   */
  readonly timeoutMs?: number;
  /** Called right after the spawn (e.g. to send tripline a signal later). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/**
 * The sensor `run` uses in these tests: TRIPLINE_E2E_SENSOR (ptrace or ebpf), ptrace by
 * default. npm test runs the suite once per sensor available.
 */
export const E2E_SENSOR = process.env.TRIPLINE_E2E_SENSOR === 'ebpf' ? 'ebpf' : 'ptrace';
/** Under the eBPF sensor, whether the variant pins bpftrace's program (test/e2e-bpftrace) rather than the compiled sensor. */
export const EBPF_BPFTRACE = E2E_SENSOR === 'ebpf' && process.env.TRIPLINE_E2E_EBPF_PROGRAM === 'bpftrace';
/**
 * The options of a case whose sensor-facing part another case already shows, skipped under
 * bpftrace (the compiled sensor's fallback) unless TRIPLINE_E2E_FULL=1: each bpftrace run
 * compiles its program (5-7 s) and detaches (3 s), and what such a case adds is the
 * normalizer's, which the ptrace and compiled-sensor variants run in full. `coveredBy` names
 * the case that shows the same thing to the sensor.
 */
export function exceptUnderBpftrace<T extends object>(opts: T, coveredBy: string): T | (T & { readonly skip: string }) {
  if (!EBPF_BPFTRACE || process.env.TRIPLINE_E2E_FULL === '1') return opts;
  return { ...opts, skip: `under bpftrace the sensor sees what "${coveredBy}" shows it (TRIPLINE_E2E_FULL=1 runs it)` };
}

/** bpftrace takes about 2 s to attach and 2 s to detach. */
const SENSOR_SLOWNESS = E2E_SENSOR === 'ebpf' ? 3 : 1;

/** Runs `node bin/tripline.js ARGS...` and collects its outcome. */
export async function runCli(givenArgs: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  const args = givenArgs[0] === 'run' && !givenArgs.includes('--sensor') ? ['run', '--sensor', E2E_SENSOR, ...givenArgs.slice(1)] : givenArgs;
  // Its own process group: on a timeout the whole group (tripline, strace, the command) is
  // killed, else a traced command left running would hold the pipes open and stall the suite.
  const child = spawn(process.execPath, [TRIPLINE_BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: options.env ?? cleanEnv(),
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  options.onSpawn?.(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (options.input !== undefined) child.stdin?.end(options.input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, (options.timeoutMs ?? 60_000) * (args[0] === 'demo' ? 3 : SENSOR_SLOWNESS));
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c: number | null, s: NodeJS.Signals | null) => {
        resolve({ code: c, signal: s });
      });
    });
    return {
      exitCode: code,
      signal,
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8'),
      durationMs: Date.now() - started,
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

export interface RunOptions extends CliOptions {
  /** A fresh directory of the test (the JSONL file is written there). */
  readonly dir: string;
  /** `run` options placed before `--jsonl FILE -- COMMAND`. */
  readonly options?: readonly string[];
}

/**
 * `tripline run [options] --jsonl DIR/detections.jsonl --store DIR/tripline.db -- COMMAND...`,
 * with the detections parsed (no --store when the options name a store or --no-store).
 */
export async function runTripline(command: readonly string[], run: RunOptions): Promise<TriplineResult> {
  const jsonlPath = join(run.dir, 'detections.jsonl');
  const own = run.options?.some((o) => o === '--store' || o.startsWith('--store=') || o === '--no-store') === true;
  const storePath = own ? undefined : join(run.dir, 'tripline.db');
  const store = storePath === undefined ? [] : ['--store', storePath];
  const result = await runCli(['run', ...(run.options ?? []), '--jsonl', jsonlPath, ...store, '--', ...command], { cwd: run.dir, ...run });
  const text = existsSync(jsonlPath) ? await readFile(jsonlPath, 'utf8') : '';
  return { ...result, detections: parseJsonl(text), revisions: parseJsonlRevisions(text), jsonlPath, storePath };
}

/**
 * The detections of a JSONL file, each once: the revisions of one id folded, the highest
 * revision winning (a line without a revision, written before revisions, is revision 1), in
 * the order each detection first appeared.
 */
export function parseJsonl(text: string): Detection[] {
  const byId = new Map<string, Detection>();
  for (const d of parseJsonlRevisions(text)) {
    const held = byId.get(d.id);
    if (held === undefined || revisionOf(held) < revisionOf(d)) byId.set(d.id, d);
  }
  return [...byId.values()];
}

/** A line's revision; 1 for a line written before revisions (no revision field). */
function revisionOf(d: Detection): number {
  const r: unknown = (d as Partial<Detection>).revision;
  return typeof r === 'number' ? r : 1;
}

/** One tripline.detection/v1 object per non-empty line: every revision as written. */
export function parseJsonlRevisions(text: string): Detection[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const d = JSON.parse(line) as Detection;
      assert.equal(d.schema, 'tripline.detection/v1', `not a detection: ${line.slice(0, 200)}`);
      return d;
    });
}

/** A fresh temp directory for `fn`, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  // realpath: on some hosts the temp dir is itself reached through a symlink.
  const dir = realpathSync(await mkdtemp(join(tmpdir(), 'tripline-e2e-')));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A compact description of a run, for assertion messages. */
export function describeRun(r: TriplineResult): string {
  const ds = r.detections.map((d) => `${d.recipe.id} ${d.subject.scope} pid ${d.subject.process.pid} ${d.subject.process.comm} dirs=${d.evidence.directories.join(',')}`);
  return `exit ${String(r.exitCode)}${r.timedOut ? ' (TIMED OUT, killed)' : ''}; ${r.detections.length} detection(s): [${ds.join(' | ')}]\nstderr:\n${r.stderr.slice(0, 3000)}`;
}

/** Asserts the run made exactly one detection, of os_network_fingerprint, and returns it. */
export function onlyFingerprint(r: TriplineResult): Detection {
  assert.equal(r.detections.length, 1, `expected exactly one detection; ${describeRun(r)}`);
  const d = r.detections[0];
  assert.ok(d !== undefined);
  assert.equal(d.recipe.id, RECIPE_ID, describeRun(r));
  return d;
}

/** Asserts the run made no detection at all. */
export function assertSilent(r: TriplineResult): void {
  assert.deepEqual(r.detections.map((d) => d.recipe.id), [], `expected no detection; ${describeRun(r)}`);
}

/** Asserts every directory in `expected` was counted. */
export function assertDirectories(d: Detection, expected: readonly string[]): void {
  for (const dir of expected) {
    assert.ok(d.evidence.directories.includes(dir), `${dir} not among the counted directories ${JSON.stringify(d.evidence.directories)}`);
  }
  assert.equal(d.evidence.directoryCount, d.evidence.directories.length);
  assert.ok(d.evidence.directoryCount >= 3, `only ${d.evidence.directoryCount} directories`);
  assert.ok(!d.evidence.directories.includes(NET), 'the /proc/sys/net root itself was counted');
}

/** Absolute, no empty, "." or ".." component, no trailing slash. */
export function isCanonicalSpelling(path: string): boolean {
  if (!path.startsWith('/')) return false;
  if (path === '/') return true;
  return path.slice(1).split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Asserts every evidence path is canonical: spelled canonically, under /proc/sys/net, and (for
 * the counted directories and the files that were accessed successfully) really there, with
 * the kernel's realpath equal to the path itself.
 */
export function assertCanonicalEvidence(d: Detection): void {
  for (const dir of d.evidence.directories) {
    assert.ok(isCanonicalSpelling(dir), `directory not canonical: ${JSON.stringify(dir)}`);
    assert.ok(dir.startsWith(`${NET}/`), `directory outside ${NET}/: ${dir}`);
    assert.equal(realpathOrUndefined(dir), dir, `directory ${dir} is not a real path on this host`);
  }
  for (const f of d.evidence.files) {
    assert.ok(isCanonicalSpelling(f.path), `evidence path not canonical: ${JSON.stringify(f.path)}`);
    assert.ok(f.path === NET || f.path.startsWith(`${NET}/`), `evidence path outside ${NET}: ${f.path}`);
    if (f.result === 'ok') assert.equal(realpathOrUndefined(f.path), f.path, `evidence path ${f.path} is not a real path on this host`);
  }
}

/** The evidence file for a canonical path, asserting it is there. */
export function evidenceFile(d: Detection, path: string): Detection['evidence']['files'][number] {
  const f = d.evidence.files.find((e) => e.path === path);
  assert.ok(f !== undefined, `${path} not in the evidence: ${JSON.stringify(d.evidence.files.map((e) => e.path))}`);
  return f;
}

/** The integer written to a file by the traced script ($$, os.getpid()). */
export function readPid(path: string): number {
  const pid = Number(readFileSync(path, 'utf8').trim());
  assert.ok(Number.isSafeInteger(pid) && pid > 0, `no pid in ${path}`);
  return pid;
}

/** Full path of an executable on PATH (or at one of `extra`), undefined when absent. */
export function which(name: string, extra: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '/usr/bin:/bin').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const candidate of [...extra, ...dirs.filter((d) => d !== '').map((d) => join(d, name))]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const IS_ROOT = process.getuid?.() === 0;

/**
 * The real python3 interpreter (sys.executable), undefined when python3 is absent. Version
 * managers put a shell-script shim first on PATH; running the interpreter directly keeps each
 * traced run short.
 */
export const PYTHON: string | undefined = (() => {
  if (which('python3') === undefined) return undefined;
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  return path !== '' ? path : undefined;
})();

/** `sysctl -n KEY`, trimmed (a read only: never changes anything). */
export function sysctlValue(key: string): string {
  const r = spawnSync('sysctl', ['-n', key], { encoding: 'utf8' });
  assert.equal(r.status, 0, `sysctl -n ${key}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Polls until `path` exists (a marker a traced script writes once it runs). The default is
 * generous: on a loaded machine bpftrace alone takes 10 s or more to attach before the command
 * starts, and waiting for an event costs nothing when it comes early.
 */
export async function waitForFile(path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) assert.fail(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves after `ms` (kept short: at most 300 ms in these tests). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
}

/** Per-test timeout: a run is well under 2 s; the margin absorbs a loaded CI machine. */
export const TEST_TIMEOUT = 90_000 * SENSOR_SLOWNESS;
