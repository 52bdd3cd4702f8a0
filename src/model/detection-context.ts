// The facts around a run that every detection carries: environment, host and sensor.

import type { Environment } from './environment.ts';
import type { ProcessInfo } from './process-info.ts';

export interface HostInfo {
  readonly hostname: string;
  readonly kernel: string;
  readonly container: { readonly id: string; readonly runtime: string } | null;
}

export interface SensorInfo {
  readonly name: string;
  readonly version: string | null;
}

export interface DetectionContext {
  readonly environment: Environment;
  /**
   * The environment of one detection where it is not the run's (watch: the subject's container
   * names it in a label, `environment_label`); undefined: the run's. Asked at each revision.
   */
  readonly environmentOf?: (subject: ProcessInfo, ancestry: readonly ProcessInfo[]) => Environment | undefined;
  readonly host: HostInfo;
  readonly sensor: SensorInfo;
}
