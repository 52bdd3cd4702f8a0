// End to end: the GitLab CI template (ci/gitlab/tripline.gitlab-ci.yml) in a simulated GitLab
// job: a job that extends .tripline, with GitLab's predefined variables, its variables expanded
// as GitLab does, before_script and script run in one shell (as the runner does), after_script
// in another, and the artifacts checked: the JSON Lines and the JUnit report GitLab reads.
// Tripline is the committed bundle, from a copy without node_modules (TRIPLINE_HOME: no clone).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { Detection } from '../../src/model/detection.ts';
import { ACTION_ROOT, copyAction } from '../github-runner.ts';
import { cleanEnv, NET, TEST_TIMEOUT, withTempDir } from './run-tripline.ts';

interface GitlabJob {
  readonly variables?: Record<string, string>;
  readonly before_script?: string[];
  readonly script?: string[];
  readonly after_script?: string[];
  readonly artifacts?: { readonly when?: string; readonly paths?: string[]; readonly reports?: { readonly junit?: string } };
}

const TEMPLATE = parse(readFileSync(join(ACTION_ROOT, 'ci', 'gitlab', 'tripline.gitlab-ci.yml'), 'utf8')) as Record<string, GitlabJob>;

/** GitLab expands $NAME and ${NAME} in variable values from the variables defined before. */
function expand(value: string, env: Readonly<Record<string, string | undefined>>): string {
  return value.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_m, a: string | undefined, b: string | undefined) => env[a ?? b ?? ''] ?? '');
}

function runJob(job: GitlabJob, dir: string, tripline: string): { script: ReturnType<typeof spawnSync>; after: ReturnType<typeof spawnSync>; project: string } {
  const project = join(dir, 'builds', 'acme', 'shop');
  mkdirSync(project, { recursive: true });
  const env: NodeJS.ProcessEnv = cleanEnv({
    CI: 'true', GITLAB_CI: 'true', CI_SERVER: 'yes', CI_BUILDS_DIR: join(dir, 'builds'), CI_PROJECT_DIR: project,
    CI_PROJECT_PATH: 'acme/shop', CI_PIPELINE_ID: '41', CI_JOB_ID: '4242', CI_JOB_NAME: 'test', CI_COMMIT_SHA: 'abc123',
    CI_COMMIT_REF_NAME: 'main', GITLAB_USER_LOGIN: 'octo', CI_JOB_URL: 'https://gitlab.example/acme/shop/-/jobs/4242',
  });
  for (const [k, v] of Object.entries(job.variables ?? {})) env[k] = expand(v, env);
  env.TRIPLINE_HOME = tripline; // an image or cache that already has Tripline: no clone
  // The runner runs before_script and script in one shell that stops at the first failing line.
  const script = spawnSync('sh', ['-e', '-c', [...(job.before_script ?? []), ...(job.script ?? [])].join('\n')], { cwd: project, env, encoding: 'utf8', timeout: TEST_TIMEOUT });
  const after = spawnSync('sh', ['-e', '-c', (job.after_script ?? []).join('\n')], { cwd: project, env, encoding: 'utf8', timeout: TEST_TIMEOUT });
  return { script, after, project };
}

/** A job of the user's that extends .tripline (GitLab merges the hidden job's keys; the job's script is its own). */
function extending(script: string[], variables: Record<string, string> = {}): GitlabJob {
  const base = TEMPLATE['.tripline'];
  assert.ok(base, 'the template defines .tripline');
  return { ...base, variables: { ...base.variables, ...variables }, script };
}

void test('GitLab template: wrapped commands append to the JSON Lines, after_script writes the JUnit report, both are artifacts', { timeout: TEST_TIMEOUT * 4 }, () => withTempDir((dir) => {
  const tripline = copyAction(join(dir, 'tripline'));
  assert.ok(!existsSync(join(tripline, 'node_modules')) && !existsSync(join(tripline, 'dist')));
  const cats = `for k in core/somaxconn ipv4/ip_forward unix/max_dgram_qlen; do cat ${NET}/$k > /dev/null; done`;
  const job = extending([`tripline run --quiet -- sh -c '${cats}'`, 'tripline run --quiet -- sysctl net > /dev/null']);
  const { script, after, project } = runJob(job, dir, tripline);
  assert.equal(script.status, 0, `${String(script.stdout)}\n${String(script.stderr)}`);
  assert.equal(after.status, 0, `${String(after.stdout)}\n${String(after.stderr)}`);
  // Artifacts: every path the template publishes exists where GitLab looks (relative to the project).
  const artifacts = job.artifacts;
  assert.equal(artifacts?.when, 'always', 'published when the job fails too');
  for (const path of artifacts.paths ?? []) assert.ok(existsSync(join(project, path)), `artifact ${path}`);
  const junitPath = artifacts.reports?.junit;
  assert.ok(junitPath !== undefined && artifacts.paths?.includes(junitPath));
  const detections = readFileSync(join(project, 'tripline.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Detection);
  assert.equal(detections.length, 2);
  for (const d of detections) {
    assert.equal(d.environment.kind, 'ci');
    assert.equal(d.environment.ci?.provider, 'gitlab-ci');
    assert.equal(d.environment.ci.job, 'test');
    assert.equal(d.environment.ci.url, 'https://gitlab.example/acme/shop/-/jobs/4242');
  }
  const junit = readFileSync(join(project, junitPath), 'utf8');
  assert.match(junit, /^<\?xml/);
  assert.equal(junit.split('<failure').length - 1, 2, junit);
  return Promise.resolve();
}));

void test('GitLab template: TRIPLINE_FAIL_ON fails the job, and the artifacts are still written', { timeout: TEST_TIMEOUT * 2 }, () => withTempDir((dir) => {
  const tripline = copyAction(join(dir, 'tripline'));
  const { script, after, project } = runJob(extending(['tripline run --quiet -- sysctl net > /dev/null', 'echo not reached'], { TRIPLINE_FAIL_ON: 'low' }), dir, tripline);
  assert.equal(script.status, 77, String(script.stderr));
  assert.doesNotMatch(String(script.stdout), /not reached/);
  assert.equal(after.status, 0, String(after.stderr));
  assert.match(readFileSync(join(project, 'tripline-junit.xml'), 'utf8'), /<failure/);
  return Promise.resolve();
}));
