// The environment of a detection from its subject's container, for `watch` on a mixed cluster:
// one DaemonSet, whose pods say in a label (environment_label, e.g. tripline.io/environment)
// whether they are ci, staging or production. A label is written by whoever deploys the pod, so
// it is attacker-influenced: only those three values are taken (never development or unknown,
// which would soften the guidance); anything else leaves the configured environment in force
// and says so in environment.source.

import type { ContainerIdentity } from '../model/container.ts';
import type { Environment, EnvironmentKind } from '../model/environment.ts';

/** The values a label may name. */
export const LABEL_ENVIRONMENT_KINDS: readonly EnvironmentKind[] = ['ci', 'staging', 'production'];

/** Most of a refused value quoted in environment.source. */
const QUOTED_MAX = 64;

function quoted(value: string): string {
  return JSON.stringify(value.length > QUOTED_MAX ? `${value.slice(0, QUOTED_MAX)}...` : value);
}

/**
 * The environment `label` names on the container's pod (else on the container itself), or the
 * run's `fallback`: for a process on the host, in a container the runtime has not described (yet),
 * or without the label. A value other than ci, staging or production is refused, and the
 * fallback's source says so.
 */
export function environmentFromContainer(container: ContainerIdentity | null | undefined, label: string, fallback: Environment): Environment {
  if (container === null || container === undefined || !container.resolved) return fallback;
  const fromPod = container.pod === null ? undefined : container.pod.labels[label];
  const value = fromPod ?? container.labels[label];
  if (value === undefined) return fallback;
  const where = fromPod !== undefined && container.pod !== null
    ? `label ${label} of pod ${container.pod.namespace}/${container.pod.name}`
    : `label ${label} of container ${container.name ?? container.id.slice(0, 12)}`;
  const kind = LABEL_ENVIRONMENT_KINDS.find((k) => k === value);
  if (kind === undefined) {
    return { ...fallback, source: `${fallback.source}; the ${where} says ${quoted(value)}, which is not ${LABEL_ENVIRONMENT_KINDS.join(', ')}: ignored` };
  }
  return { kind, source: where, ...(fallback.ci === undefined ? {} : { ci: fallback.ci }) };
}
