// The built-in os_network_fingerprint recipe: a process (or a small process tree) reading
// its way through several directories of the kernel's network settings under /proc/sys/net.

import type { Recipe } from '../model/recipe.ts';

export const OS_NETWORK_FINGERPRINT: Recipe = {
  id: 'os_network_fingerprint',
  name: 'OS network fingerprint',
  description:
    'A process explored several directories of kernel network settings under /proc/sys/net (core, ipv4, ipv6, ' +
    'netfilter, ...), which maps how the host is networked: forwarding, filtering, IPv6, connection tracking. ' +
    'Reconnaissance of this kind often comes before moving on to other hosts or sending data out.',
  version: '1.0.0',
  tactic: { id: 'TA0007', name: 'Discovery' },
  technique: { id: 'T1082', name: 'System Information Discovery' },
  related: [
    { id: 'T1016', name: 'System Network Configuration Discovery' },
    { id: 'T1021', name: 'Remote Services' },
    { id: 'T1048', name: 'Exfiltration Over Alternative Protocol' },
  ],
  importance: 'low',
  documentation: 'docs/recipes/os_network_fingerprint.md',
  match: {
    roots: ['/proc/sys/net'],
    countActions: ['read', 'readwrite', 'stat', 'access', 'list', 'readlink'],
    probeErrors: ['ENOENT', 'ENOTDIR', 'EINVAL', 'ELOOP', 'ENAMETOOLONG'],
  },
  aggregate: {
    threshold: 3,
    processWindowMs: 60_000,
    treeWindowMs: 10_000,
    scopes: ['process', 'process-tree'],
  },
  guidance: {
    ci: {
      implications:
        'A build step in {where} walked through {directoryCount} directories of network settings ({directories}). ' +
        'Builds and tests rarely need to know how the runner is networked, so this usually comes from code that changed ' +
        'recently or from a dependency\'s install or test script. Left unexplained, it can reach production with the ' +
        'artifact, and what it learns about internal networks is useful to whoever controls that code.',
      actions: [
        'Find the change that brought in {command} (pid {pid}, started by {parent}): review the recent commits and ' +
          'dependency updates that touch this step, and make sure nothing in them reads network settings without a reason.',
        'Run static and dynamic analysis on that code and its dependencies, looking for anything that reads ' +
          '/proc/sys/net or calls sysctl; {files} are the paths to search for.',
        'Tighten the pipeline: limit what this job may run and read, keep Tripline watching the step, and fail the ' +
          'job on detections (--fail-on low) once the expected readers are excepted.',
      ],
    },
    staging: {
      implications:
        '{command} (pid {pid}) read {directoryCount} directories of network settings on {where} ({directories}). ' +
        'Before release, this is how an attacker or a curious insider maps a host to plan what to do in production: ' +
        'which interfaces exist, whether the host forwards or filters traffic, what IPv6 and conntrack settings allow.',
      actions: [
        'Treat it as a finding of your security tests: run a penetration test and a vulnerability assessment of this ' +
          'host\'s network configuration, starting with what {comm} could have learned from {files}.',
        'Make sure reads of /proc/sys/net are logged and alerted on in staging, and check whether {command} was expected ' +
          'here; if it was, add an exception for its exact executable path, not its name.',
        'Check that staging cannot reach production networks or credentials, so whatever was mapped here cannot be ' +
          'used against live systems.',
      ],
    },
    production: {
      implications:
        '{command} (pid {pid}) read {directoryCount} directories of network settings on {where} ({directories}). ' +
        'On a production host, an unexpected process learning how the network is configured is often one step of an ' +
        'intrusion that is already in progress: the map helps it persist, move to other hosts, take credentials or ' +
        'send data out.',
      actions: [
        'Audit the host\'s network settings now (sysctl net, firewall rules, routes) against your baseline, and look ' +
          'for anything {comm} (pid {pid}) may have changed or left behind.',
        'Start your incident response: keep the process tree of pid {pid} (started by {parent}) and its files as evidence, find out how {exe} ' +
          'got here and what else it ran, and contain the host if it cannot be explained.',
        'Review your security policies for this service: who may run what on it, and which processes are allowed to ' +
          'read /proc/sys/net; write the legitimate ones down as exceptions.',
      ],
    },
    development: {
      implications:
        '{command} (pid {pid}) read {directoryCount} directories of network settings ({directories}) on a development ' +
        'machine. Often a tool or script doing its job, but also how a malicious dependency starts its reconnaissance.',
      actions: [
        'Check what {command} is and where it came from (started by {parent}, in {cwd}).',
        'If it came with a dependency, read the package\'s install and test scripts before running them again.',
        'If it is expected, note it so the same run in CI can be excepted on its exact executable path.',
      ],
    },
    unknown: {
      implications:
        '{command} (pid {pid}) read {directoryCount} directories of network settings ({directories}). What this means ' +
        'depends on where it ran; pass --environment ci|staging|production to get guidance for that place.',
      actions: [
        'Identify {command} (exe {exe}, started by {parent}, in {cwd}) and whether it is expected to inspect the network.',
        'Look at what else the same process tree did around that time: network connections, downloads, files written.',
        'If it is not expected, treat it as reconnaissance: preserve the evidence and review how the code got there.',
      ],
    },
  },
};
