// The facts around a run that every detection carries: environment, host and sensor.

import type { Environment } from './environment.ts';

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
  readonly host: HostInfo;
  readonly sensor: SensorInfo;
}
