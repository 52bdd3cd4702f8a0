// Where Tripline runs: the environment kind (from a flag, TRIPLINE_ENVIRONMENT or CI markers)
// and the CI provider's run context. Reads only the variables it is given.

import { isEnvironmentKind, type CiContext, type Environment, type EnvironmentKind } from '../model/environment.ts';
import { stepFromVariables } from './step-attribution.ts';

type Env = Readonly<Record<string, string | undefined>>;

function defined(fields: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** The CI run context from the provider's own variables, or undefined outside CI. */
export function detectCi(env: Env): CiContext | undefined {
  if (env.GITHUB_ACTIONS === 'true') {
    const step = stepFromVariables((name) => env[name]);
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    const url = env.GITHUB_REPOSITORY !== undefined && env.GITHUB_RUN_ID !== undefined
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
    return {
      provider: 'github-actions',
      ...defined({
        repository: env.GITHUB_REPOSITORY, workflow: env.GITHUB_WORKFLOW, job: env.GITHUB_JOB, runId: env.GITHUB_RUN_ID,
        runAttempt: env.GITHUB_RUN_ATTEMPT, sha: env.GITHUB_SHA, ref: env.GITHUB_REF, actor: env.GITHUB_ACTOR, url,
      }),
      // The step tripline itself runs in (run); watch replaces it with each subject's own.
      ...(step === undefined ? {} : { step }),
    };
  }
  if (env.GITLAB_CI === 'true') {
    return {
      provider: 'gitlab-ci',
      ...defined({
        repository: env.CI_PROJECT_PATH, workflow: env.CI_PIPELINE_ID === undefined ? undefined : `pipeline ${env.CI_PIPELINE_ID}`,
        job: env.CI_JOB_NAME, runId: env.CI_JOB_ID, sha: env.CI_COMMIT_SHA, ref: env.CI_COMMIT_REF_NAME,
        actor: env.GITLAB_USER_LOGIN, url: env.CI_JOB_URL,
      }),
    };
  }
  if (env.BUILDKITE === 'true') {
    return {
      provider: 'buildkite',
      ...defined({
        repository: env.BUILDKITE_REPO, workflow: env.BUILDKITE_PIPELINE_SLUG, job: env.BUILDKITE_LABEL, runId: env.BUILDKITE_BUILD_NUMBER,
        sha: env.BUILDKITE_COMMIT, ref: env.BUILDKITE_BRANCH, url: env.BUILDKITE_BUILD_URL,
      }),
    };
  }
  if (env.CIRCLECI === 'true') {
    return {
      provider: 'circleci',
      ...defined({
        repository: env.CIRCLE_PROJECT_REPONAME === undefined ? undefined : `${env.CIRCLE_PROJECT_USERNAME ?? ''}/${env.CIRCLE_PROJECT_REPONAME}`,
        job: env.CIRCLE_JOB, runId: env.CIRCLE_BUILD_NUM, sha: env.CIRCLE_SHA1, ref: env.CIRCLE_BRANCH, url: env.CIRCLE_BUILD_URL,
      }),
    };
  }
  if (env.JENKINS_URL !== undefined) {
    return {
      provider: 'jenkins',
      ...defined({ workflow: env.JOB_NAME, runId: env.BUILD_NUMBER, sha: env.GIT_COMMIT, ref: env.GIT_BRANCH, url: env.BUILD_URL }),
    };
  }
  if (env.TF_BUILD === 'True') {
    return {
      provider: 'azure-pipelines',
      ...defined({ repository: env.BUILD_REPOSITORY_NAME, workflow: env.BUILD_DEFINITIONNAME, runId: env.BUILD_BUILDID, sha: env.BUILD_SOURCEVERSION, ref: env.BUILD_SOURCEBRANCH }),
    };
  }
  const ci = env.CI;
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return { provider: 'generic' };
  return undefined;
}

export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/**
 * The environment a run belongs to. An explicit choice (flag, then TRIPLINE_ENVIRONMENT) wins;
 * otherwise CI markers mean "ci", and nothing known means "unknown". The CI context is kept
 * whatever the kind, so a staging deploy job still says which pipeline ran it.
 */
export function detectEnvironment(flag: string | undefined, env: Env): Environment {
  const ci = detectCi(env);
  const ciPart = ci === undefined ? {} : { ci };
  const explicit: [string, string | undefined][] = [['--environment', flag], ['TRIPLINE_ENVIRONMENT', env.TRIPLINE_ENVIRONMENT]];
  for (const [source, value] of explicit) {
    if (value === undefined || value === '' || value.toLowerCase() === 'auto') continue;
    const kind = value.toLowerCase();
    if (!isEnvironmentKind(kind)) {
      throw new EnvironmentError(`${source}: "${value}" is not an environment; use ci, staging, production, development or unknown`);
    }
    return { kind: kind satisfies EnvironmentKind, source, ...ciPart };
  }
  if (ci !== undefined) return { kind: 'ci', source: `CI variables (${ci.provider})`, ci };
  return { kind: 'unknown', source: 'default' };
}
