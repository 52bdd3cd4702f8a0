// Start-up cost of the tripline command itself: --version and --help (nothing but the command
// line loads), and `run -- true` under each sensor, each beside bare node and the bare command,
// alternating, medians. Goals (issue 11): --help and --version <= 0.25 s; run --sensor ptrace
// -- true <= 0.5 s over bare.

import { spawnSync } from 'node:child_process';
import { median, timeOnce, TRIPLINE } from './timing.ts';

interface Case {
  readonly name: string;
  readonly command: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export function benchStartup(runs = Number(process.env.BENCH_RUNS ?? '9')): void {
  const root = process.getuid?.() === 0;
  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  const cases: Case[] = [
    { name: 'node -e "" (bare node)', command: ['node', '-e', ''] },
    { name: 'true (bare command)', command: ['true'] },
    { name: 'tripline --version', command: ['node', TRIPLINE, '--version'] },
    { name: 'tripline --help', command: ['node', TRIPLINE, '--help'] },
    ...(hasStrace ? [
      { name: 'strace -f -o /dev/null true', command: ['strace', '-f', '-o', '/dev/null', 'true'] },
      { name: 'tripline run --sensor ptrace -q -- true', command: ['node', TRIPLINE, 'run', '--sensor', 'ptrace', '-q', '--', 'true'] },
    ] : []),
    ...(root ? [
      { name: 'tripline run --sensor ebpf -q -- true (compiled)', command: ['node', TRIPLINE, 'run', '--sensor', 'ebpf', '-q', '--', 'true'], env: { ...process.env, TRIPLINE_EBPF_PROGRAM: 'compiled' } },
    ] : []),
  ];
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  // Alternating: a burst of load elsewhere on the machine lands on every case alike.
  for (let i = 0; i < runs; i++) {
    for (const c of cases) times.get(c.name)?.push(timeOnce(c.command, c.env));
  }
  const bare = median(times.get('node -e "" (bare node)') ?? []);
  console.log(`\n# start-up (${String(runs)} alternating runs, medians; "over bare" is over bare node)`);
  for (const c of cases) {
    const ms = median(times.get(c.name) ?? []);
    console.log(`${c.name.padEnd(52)} ${(ms / 1000).toFixed(3)} s   over bare ${((ms - bare) / 1000).toFixed(3)} s`);
  }
}
