import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectCi, detectEnvironment, EnvironmentError } from './environment-detector.ts';

test('GitHub Actions: full run context and a link to the run', () => {
  const env = {
    GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/shop', GITHUB_WORKFLOW: 'CI', GITHUB_JOB: 'test', GITHUB_RUN_ID: '7',
    GITHUB_RUN_ATTEMPT: '2', GITHUB_SHA: 'abc', GITHUB_REF: 'refs/heads/main', GITHUB_ACTOR: 'octo', GITHUB_SERVER_URL: 'https://ghe.example',
  };
  assert.deepEqual(detectCi(env), {
    provider: 'github-actions', repository: 'acme/shop', workflow: 'CI', job: 'test', runId: '7', runAttempt: '2',
    sha: 'abc', ref: 'refs/heads/main', actor: 'octo', url: 'https://ghe.example/acme/shop/actions/runs/7',
  });
});

test('GitLab, Buildkite, CircleCI, Jenkins, Azure and a bare CI=true are recognised', () => {
  assert.equal(detectCi({ GITLAB_CI: 'true', CI_PROJECT_PATH: 'g/p', CI_JOB_NAME: 'unit' })?.repository, 'g/p');
  assert.equal(detectCi({ BUILDKITE: 'true' })?.provider, 'buildkite');
  assert.equal(detectCi({ CIRCLECI: 'true', CIRCLE_PROJECT_USERNAME: 'o', CIRCLE_PROJECT_REPONAME: 'r' })?.repository, 'o/r');
  assert.equal(detectCi({ JENKINS_URL: 'http://j' })?.provider, 'jenkins');
  assert.equal(detectCi({ TF_BUILD: 'True' })?.provider, 'azure-pipelines');
  assert.deepEqual(detectCi({ CI: 'true' }), { provider: 'generic' });
  assert.equal(detectCi({ CI: 'false' }), undefined);
  assert.equal(detectCi({}), undefined);
});

test('an explicit kind wins over CI markers, and keeps the CI context', () => {
  const e = detectEnvironment('staging', { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'a/b' });
  assert.equal(e.kind, 'staging');
  assert.equal(e.source, '--environment');
  assert.equal(e.ci?.repository, 'a/b');
  assert.equal(detectEnvironment(undefined, { TRIPLINE_ENVIRONMENT: 'Production' }).kind, 'production');
  assert.equal(detectEnvironment('ci', { TRIPLINE_ENVIRONMENT: 'production' }).kind, 'ci');
});

test('CI markers mean ci; nothing means unknown', () => {
  assert.equal(detectEnvironment(undefined, { GITLAB_CI: 'true' }).kind, 'ci');
  assert.deepEqual(detectEnvironment(undefined, {}), { kind: 'unknown', source: 'default' });
});

test('a kind that does not exist is an error naming where it came from', () => {
  assert.throws(() => detectEnvironment('prod', {}), (e: unknown) => e instanceof EnvironmentError && e.message.includes('--environment') && e.message.includes('"prod"'));
  assert.throws(() => detectEnvironment(undefined, { TRIPLINE_ENVIRONMENT: 'qa' }), /TRIPLINE_ENVIRONMENT: "qa"/);
});

test('GitHub Actions: the step tripline runs in, from GITHUB_ACTION and the action a uses: step runs', () => {
  assert.deepEqual(detectCi({ GITHUB_ACTIONS: 'true', GITHUB_ACTION: 'scan' })?.step, { id: 'scan' });
  assert.deepEqual(
    detectCi({ GITHUB_ACTIONS: 'true', GITHUB_ACTION: '__actions_checkout', GITHUB_ACTION_REPOSITORY: 'actions/checkout', GITHUB_ACTION_REF: 'v4' })?.step,
    { id: '__actions_checkout', action: 'actions/checkout@v4' },
  );
  assert.equal(detectCi({ GITHUB_ACTIONS: 'true' })?.step, undefined);
});
