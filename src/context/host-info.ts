// Facts about the host a detection happened on: name, kernel, and the container Tripline runs in.

import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import type { HostInfo } from '../model/detection-context.ts';

const CONTAINER_PATTERNS: readonly [RegExp, string][] = [
  [/docker[-/]([0-9a-f]{64})/, 'docker'],
  [/cri-containerd-([0-9a-f]{64})/, 'containerd'],
  [/crio-([0-9a-f]{64})/, 'cri-o'],
  [/libpod-([0-9a-f]{64})/, 'podman'],
  [/kubepods.*?([0-9a-f]{64})/, 'kubernetes'],
];

/** The container id in a /proc/<pid>/cgroup text, if it names one. */
export function containerFromCgroup(text: string): { id: string; runtime: string } | null {
  for (const [pattern, runtime] of CONTAINER_PATTERNS) {
    const m = pattern.exec(text);
    if (m?.[1] !== undefined) return { id: m[1], runtime };
  }
  return null;
}

export function readHostInfo(): HostInfo {
  let container: HostInfo['container'] = null;
  try {
    container = containerFromCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    container = null;
  }
  return { hostname: hostname(), kernel: release(), container };
}
