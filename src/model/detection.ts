// The detection event, schema tripline.detection/v1 (schema/detection-v1.schema.json).

import type { ContainerIdentity, ProcessNamespaces } from './container.ts';
import type { CiContext, EnvironmentKind } from './environment.ts';
import type { Importance } from './importance.ts';
import type { MitreRef, SubjectScope } from './recipe.ts';
import type { AccessAction } from './sensor-event.ts';

export const DETECTION_SCHEMA = 'tripline.detection/v1';

export interface DetectionProcess {
  readonly pid: number;
  readonly ppid: number | null;
  readonly exe: string | null;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly argvTruncated: boolean;
  readonly cwd: string | null;
  readonly uid: number | null;
  /** ISO 8601 time the process was first seen (fork or exec), or null if it predates the trace. */
  readonly start: string | null;
  readonly exit: { readonly time: string; readonly code: number | null; readonly signal: string | null } | null;
  /**
   * The container the process ran in (null: on the host), under `watch`; absent where it was
   * not looked at (`run`, replays) or could not be told.
   */
  readonly container?: DetectionContainer | null;
  /** Its pid and mount namespace ids, under `watch`, when they were read. */
  readonly namespaces?: ProcessNamespaces;
}

/** A process's container in a detection: the cgroup's runtime and id, and what the runtime said (null until it answered). */
export type DetectionContainer = Omit<ContainerIdentity, 'resolved'>;

export interface EvidenceFile {
  readonly path: string;
  readonly actions: readonly AccessAction[];
  readonly syscalls: readonly string[];
  readonly count: number;
  readonly first: string;
  readonly last: string;
  /** "ok", or the errno of the last failed attempt when none succeeded. */
  readonly result: string;
  /** Whether the access counted toward breadth. */
  readonly counted: boolean;
  /** The processes that touched it. */
  readonly pids: readonly number[];
  /** Other spellings seen for this canonical path (relative, via /proc/self/root, a symlink...). */
  readonly spelledAs: readonly string[];
}

/** The package whose install or run script the subject belongs to (npm, yarn or pnpm lifecycle). */
export interface PackageAttribution {
  readonly manager: 'npm' | 'yarn' | 'pnpm';
  readonly name: string;
  readonly version: string | null;
  /** The lifecycle script (preinstall, install, postinstall, prepare, test...) when it could be told. */
  readonly lifecycle: string | null;
  /** The package's directory (under node_modules/). */
  readonly directory: string;
}

/** "postinstall of left-pad@1.3.0". */
export function describePackage(p: PackageAttribution): string {
  const pkg = p.version === null ? p.name : `${p.name}@${p.version}`;
  return p.lifecycle === null ? `a ${p.manager} script of ${pkg}` : `${p.lifecycle} of ${pkg}`;
}

/** The sensor behind a detection, and what it may have missed while the subject was live. */
export interface DetectionSensor {
  readonly name: string;
  readonly version: string | null;
  /** Events the sensor lost (kernel buffer overflow, unreadable lines) while the subject was live. */
  readonly eventsLost: number;
  /** Times nothing was watched (the sensor was down) while the subject was live; end null: still open when written. */
  readonly gaps: readonly { readonly start: string; readonly end: string | null }[];
  /** False when events were lost or a gap overlapped the subject's life: the evidence may be incomplete. */
  readonly complete: boolean;
}

/** Where a detection stands in its revision stream: `open` (revision 1), `updated`, `closed` (the final evidence). */
export type DetectionState = 'open' | 'updated' | 'closed';

export interface Detection {
  readonly schema: typeof DETECTION_SCHEMA;
  readonly id: string;
  /**
   * 1 when opened, one more per revision emitted; every revision of a detection has its id,
   * and the highest revision is the latest. Absent from files written before revisions: read
   * as 1, closed (`tripline report` does).
   */
  readonly revision: number;
  readonly state: DetectionState;
  /** When the threshold was crossed. */
  readonly time: string;
  readonly recipe: {
    readonly id: string;
    readonly name: string;
    readonly description: string;
    readonly version: string;
    readonly tactic: MitreRef;
    readonly technique: MitreRef;
    readonly related: readonly MitreRef[];
    readonly importance: Importance;
    readonly documentation: string;
  };
  readonly environment: {
    readonly kind: EnvironmentKind;
    readonly source: string;
    readonly ci: CiContext | null;
  };
  readonly subject: {
    readonly scope: SubjectScope;
    readonly process: DetectionProcess;
    /** Parent first, up to the monitored root. */
    readonly ancestry: readonly DetectionProcess[];
    /** The other processes whose accesses are in the evidence (descendants, or forks that did not exec), at most 64. */
    readonly members: readonly DetectionProcess[];
    /** The npm/yarn/pnpm package whose lifecycle script this is, when it is one; else null. */
    readonly package: PackageAttribution | null;
  };
  readonly evidence: {
    /** The watched trees the evidence lies in (the recipe's roots). */
    readonly roots: readonly string[];
    readonly directories: readonly string[];
    readonly directoryCount: number;
    readonly files: readonly EvidenceFile[];
    /** Distinct paths not listed in `files` because the list was full. */
    readonly filesOmitted: number;
    readonly accessCount: number;
    readonly first: string;
    readonly last: string;
    readonly configurationChanged: boolean;
    readonly threshold: number;
    /** What the threshold counts: distinct directories, or distinct files. */
    readonly unit: 'directories' | 'files';
    readonly windowMs: number;
  };
  readonly host: {
    readonly hostname: string;
    readonly kernel: string;
    readonly container: { readonly id: string; readonly runtime: string } | null;
  };
  readonly sensor: DetectionSensor;
  readonly guidance: {
    readonly environment: EnvironmentKind;
    readonly implications: string;
    readonly actions: readonly string[];
  };
}

/**
 * "container web-1 (localhost/app:1) podman 0123456789ab, pod monitoring/node-exporter-x", or
 * undefined for a process on the host or whose container is not known. Attacker-chosen text:
 * every output escapes it.
 */
export function describeContainer(c: DetectionContainer | null | undefined): string | undefined {
  if (c === null || c === undefined) return undefined;
  const id = /^[0-9a-f]{64}$/.test(c.id) ? c.id.slice(0, 12) : c.id;
  const name = c.name === null ? '' : ` ${c.name}`;
  const image = c.image === null ? '' : ` (${c.image})`;
  const pod = c.pod === null ? '' : `, pod ${c.pod.namespace}/${c.pod.name}`;
  return `container${name}${image} ${c.runtime} ${id}${pod}`;
}
