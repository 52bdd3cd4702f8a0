// SARIF output: golden file, Microsoft's validator (SARIF and GitHub rules) on every file the
// tests write, the choice of location, severities per importance, and hostile process text.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Log } from 'sarif';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { IMPORTANCE_LEVELS } from '../model/importance.ts';
import type { Recipe } from '../model/recipe.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { assertValidSarif } from '../../test/validate-sarif.ts';
import { buildSarif, fingerprintOf, SarifOutput, type SarifOptions } from './sarif-output.ts';

const GOLDEN = new URL('../../test/golden/', import.meta.url);

const TEMP = mkdtempSync(join(tmpdir(), 'tripline-sarif-'));
/** A repository checkout with one script in it. */
const WORKSPACE = join(TEMP, 'workspace');
mkdirSync(join(WORKSPACE, 'scripts'), { recursive: true });
writeFileSync(join(WORKSPACE, 'scripts', 'audit.sh'), '#!/bin/sh\ncat /proc/sys/net/ipv4/ip_forward\n');
after(() => {
  rmSync(TEMP, { recursive: true, force: true });
});

const CI = { kind: 'ci', source: 'CI variables (github-actions)', ci: { provider: 'github-actions', repository: 'acme/shop', workflow: 'build', job: 'test', runId: '42' } } as const;
const WORKFLOW = '.github/workflows/ci.yml';

function detectionsOf(fixture: string): Detection[] {
  return replayFixture(fixture, { environment: CI }).closed;
}

function first(fixture: string): Detection {
  const [d] = detectionsOf(fixture);
  assert.ok(d, `${fixture} fires`);
  return d;
}

/** A copy of `d` whose subject is another process (argv, cwd, exe, ancestry). */
function withSubject(d: Detection, process: Partial<Detection['subject']['process']>, ancestry?: Detection['subject']['ancestry']): Detection {
  const copy = structuredClone(d);
  return { ...copy, subject: { ...copy.subject, process: { ...copy.subject.process, ...process }, ancestry: ancestry ?? copy.subject.ancestry } };
}

function assertGolden(name: string, actual: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name} (UPDATE_GOLDEN=1 to accept)`);
}

let written = 0;
/** Writes a log to a temp file and validates it. */
function writeAndValidate(log: Log): void {
  const file = join(TEMP, `log-${++written}.sarif`);
  writeFileSync(file, JSON.stringify(log, null, 2));
  assertValidSarif(file);
}

function locationUri(log: Log, index = 0): string | undefined {
  return log.runs[0]?.results?.[index]?.locations?.[0]?.physicalLocation?.artifactLocation?.uri;
}

const BASE_OPTIONS: SarifOptions = { recipes: BUILTIN_RECIPES, toolVersion: '0.1.0' };

/** buildSarif, with the log written and validated like every other file the tests make. */
function sarifOf(detections: readonly Detection[], options: SarifOptions): Log {
  const log = buildSarif(detections, options);
  writeAndValidate(log);
  return log;
}

/** A fileExists that knows only these files. */
function only(...files: string[]): (path: string) => boolean {
  return (path) => files.includes(path);
}

void test('sysctl -a and a workspace script in CI (golden, validated)', () => {
  const script = withSubject(first('audit-cat-loop.strace'), { argv: ['/bin/sh', 'scripts/audit.sh'], exe: '/usr/bin/dash', comm: 'sh', cwd: WORKSPACE });
  const file = join(TEMP, 'golden.sarif');
  const output = new SarifOutput({ path: file, recipes: BUILTIN_RECIPES, toolVersion: '0.1.0', workspace: WORKSPACE, workflowFile: WORKFLOW });
  for (const d of [...detectionsOf('sysctl-a.strace'), script]) output.closed(d);
  output.close();
  assertValidSarif(file);
  const text = readFileSync(file, 'utf8');
  const log = JSON.parse(text) as Log;
  assert.equal(locationUri(log, 0), WORKFLOW, 'sysctl ran outside the workspace: the workflow file');
  assert.equal(locationUri(log, 1), 'scripts/audit.sh', 'the script the shell ran');
  assertGolden('sarif-sysctl-a.sarif.json', text.replaceAll(pathToFileURL(WORKSPACE).href, 'file:///workspace').replaceAll(WORKSPACE, '/workspace'));
});

void test('the location is a script of the workspace named on a command line, subject first, then ancestors', () => {
  const d = first('sysctl-a.strace');
  const options = { ...BASE_OPTIONS, workspace: '/ws', workflowFile: WORKFLOW };
  const relative = withSubject(d, { argv: ['node', 'test/run.js', '--flag'], cwd: '/ws/pkg' });
  assert.equal(locationUri(sarifOf([relative], { ...options, fileExists: only('/ws/pkg/test/run.js') })), 'pkg/test/run.js');
  const outside = withSubject(d, { argv: ['/bin/sh', '/etc/profile', '../x.sh'], cwd: '/ws' }, []);
  assert.equal(locationUri(sarifOf([outside], { ...options, fileExists: () => true })), 'package.json', 'paths outside the workspace are not taken');
  const parent = structuredClone(d.subject.process);
  const fromAncestor = withSubject(d, { argv: ['sysctl', '-a'], cwd: '/tmp' }, [{ ...parent, argv: ['bash', '/ws/ci/net check.sh'], cwd: '/' }]);
  assert.equal(locationUri(sarifOf([fromAncestor], { ...options, fileExists: only('/ws/ci/net check.sh') })), 'ci/net%20check.sh');
});

void test('without a script, the nearest package.json from the working directory up to the workspace root', () => {
  const d = withSubject(first('sysctl-a.strace'), { argv: ['sysctl', '-a'], cwd: '/ws/packages/app/src' });
  const options = { ...BASE_OPTIONS, workspace: '/ws/', workflowFile: WORKFLOW };
  assert.equal(locationUri(sarifOf([d], { ...options, fileExists: only('/ws/package.json', '/ws/packages/app/package.json') })), 'packages/app/package.json');
  assert.equal(locationUri(sarifOf([d], { ...options, fileExists: only('/ws/package.json') })), 'package.json');
  assert.equal(locationUri(sarifOf([d], { ...options, fileExists: only('/package.json') })), WORKFLOW, 'never above the workspace');
});

void test('else the workflow file, else tripline.yaml; always with region and %SRCROOT%', () => {
  const d = first('sysctl-a.strace');
  const withWorkflow = sarifOf([d], { ...BASE_OPTIONS, workspace: WORKSPACE, workflowFile: WORKFLOW });
  assert.equal(locationUri(withWorkflow), WORKFLOW);
  assert.equal(withWorkflow.runs[0]?.originalUriBaseIds?.['%SRCROOT%']?.uri, `${pathToFileURL(WORKSPACE).href}/`);
  const bare = sarifOf([d], { ...BASE_OPTIONS, workflowFile: undefined });
  const location = bare.runs[0]?.results?.[0]?.locations?.[0]?.physicalLocation;
  assert.deepEqual(location, { artifactLocation: { uri: 'tripline.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: 1 } });
  assert.equal(bare.runs[0]?.originalUriBaseIds, undefined);
  assert.equal(locationUri(sarifOf([d], { ...BASE_OPTIONS, workflowFile: '../outside.yml' })), 'tripline.yaml');
});

void test('security-severity and level follow importance', () => {
  const d = first('sysctl-a.strace');
  const recipes: Recipe[] = IMPORTANCE_LEVELS.map((importance) => ({ ...BUILTIN_RECIPES[0] as Recipe, id: `net_${importance}`, importance }));
  const detections = recipes.map((r) => ({ ...structuredClone(d), recipe: { ...d.recipe, id: r.id, importance: r.importance } }));
  const log = sarifOf(detections, { ...BASE_OPTIONS, recipes });
  const run = log.runs[0];
  assert.ok(run);
  const expected = { low: ['3.0', 'note'], medium: ['5.0', 'warning'], high: ['7.5', 'error'], critical: ['9.5', 'error'] } as const;
  IMPORTANCE_LEVELS.forEach((importance, i) => {
    const rule = run.tool.driver.rules?.[i];
    const result = run.results?.[i];
    assert.ok(rule && result);
    assert.equal(rule.properties?.['security-severity'], expected[importance][0], importance);
    assert.equal(rule.defaultConfiguration?.level, expected[importance][1], importance);
    assert.equal(result.level, expected[importance][1], importance);
    assert.equal(result.ruleIndex, i);
    assert.equal(result.ruleId, `net_${importance}`);
  });
  assert.deepEqual(run.tool.driver.rules?.[0]?.properties?.tags, ['security', 'Discovery', 'TA0007', 'T1082', 'T1016', 'T1021', 'T1048']);
});

void test('a detection of a recipe no longer loaded gets a rule from what it carries', () => {
  const log = sarifOf([first('sysctl-a.strace')], { ...BASE_OPTIONS, recipes: [] });
  const rule = log.runs[0]?.tool.driver.rules?.[0];
  assert.equal(rule?.id, 'os_network_fingerprint');
  assert.equal(rule.properties?.['security-severity'], '3.0');
  assert.equal(log.runs[0]?.results?.[0]?.ruleIndex, 0);
});

void test('the fingerprint is stable across runs and changes with what was read', () => {
  const d = first('sysctl-a.strace');
  const rerun = withSubject(d, { pid: 999, argv: ['sysctl', '-a', '-N'] });
  assert.equal(fingerprintOf(rerun), fingerprintOf(d));
  const fewer = { ...structuredClone(d), evidence: { ...d.evidence, directories: d.evidence.directories.slice(1) } };
  assert.notEqual(fingerprintOf(fewer), fingerprintOf(d));
  assert.match(fingerprintOf(d), /^[0-9a-f]{32}$/);
});

void test('hostile process text stays in JSON strings and plain message text, cut to size', () => {
  const hostile = withSubject(first('audit-cat-loop.strace'), {
    comm: '::error::pwned',
    exe: '/tmp/<script>alert(1)</script>',
    cwd: `${WORKSPACE}/%0A`,
    argv: ['sh', '-c', '<script>alert(1)</script>', '![x](http://evil/x.png)', 'line\nbreak %0A ::warning::x', 'A'.repeat(5000)],
  });
  const log = sarifOf([hostile], { ...BASE_OPTIONS, workspace: WORKSPACE, workflowFile: WORKFLOW });
  const result = log.runs[0]?.results?.[0];
  assert.ok(result);
  assert.equal(result.message.markdown, undefined);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(result.message.text ?? '', /[\u0000-\u001f]/);
  assert.ok((result.message.text ?? '').length < 1200, 'message is short');
  const props = result.properties as { process: { comm: string; argv: string[] } };
  assert.equal(props.process.comm, '::error::pwned');
  assert.equal(props.process.argv[4], 'line\nbreak %0A ::warning::x');
  assert.ok((props.process.argv[5] ?? '').length <= 1000, 'long strings are cut');
  assert.equal(locationUri(log), WORKFLOW);
  for (const rule of log.runs[0]?.tool.driver.rules ?? []) assert.doesNotMatch(rule.help?.markdown ?? '', /<script|!\[/);
});

void test('the validator check is not vacuous: a result without a location fails it', () => {
  const log = buildSarif([first('sysctl-a.strace')], BASE_OPTIONS);
  const result = log.runs[0]?.results?.[0];
  assert.ok(result);
  delete result.locations;
  assert.throws(() => {
    writeAndValidate(log);
  }, /GH1015/);
});

void test('the workspace path in originalUriBaseIds is redacted like every other path', () => {
  const token = 'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5';
  const log = sarifOf([first('sysctl-a.strace')], { ...BASE_OPTIONS, workspace: `/home/runner/ghp_${token}/DB_PASSWORD=hunter22/shop`, workflowFile: WORKFLOW });
  const base = log.runs[0]?.originalUriBaseIds?.['%SRCROOT%']?.uri ?? '';
  assert.match(base, /^file:\/\/\/home\/runner\/ghp_.*REDACTED/);
  const text = JSON.stringify(log);
  assert.ok(!text.includes(token), base);
  assert.ok(!text.includes('hunter22'), base);
});

void test('an incomplete detection says so in its message, and every result carries the sensor block (validated)', () => {
  const d = first('sysctl-a.strace');
  const gap = { start: d.evidence.first, end: new Date(Date.parse(d.evidence.first) + 2000).toISOString() };
  const lossy: Detection = { ...structuredClone(d), sensor: { name: 'bpftrace', version: '0.20.2', eventsLost: 12, gaps: [gap], complete: false } };
  const log = sarifOf([d, lossy], { ...BASE_OPTIONS, workflowFile: WORKFLOW });
  const [complete, incomplete] = log.runs[0]?.results ?? [];
  assert.ok(complete && incomplete);
  assert.deepEqual(complete.properties?.sensor, { name: 'strace', version: '6.1', eventsLost: 0, gaps: [], complete: true });
  assert.doesNotMatch(complete.message.text ?? '', /incomplete/);
  assert.deepEqual(incomplete.properties?.sensor, { name: 'bpftrace', version: '0.20.2', eventsLost: 12, gaps: [gap], complete: false });
  assert.match(incomplete.message.text ?? '', /^sysctl -a \(pid \d+\) explored 37 directories under \/proc\/sys\/net in CI \(.*\)\. Evidence may be incomplete: 12 events lost while this process ran; sensor down \d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\. \S/);
  assert.deepEqual(incomplete.partialFingerprints, complete.partialFingerprints, 'loss does not make it another alert');
});
