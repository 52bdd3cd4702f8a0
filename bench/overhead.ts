// Overhead benchmark: each workload bare and under `tripline run`, alternating in one process,
// medians of several runs, and the ratios. Plus the user-space cost of parsing and detecting,
// measured by replaying a recorded trace; the loading time of large recipe files
// (bench/recipe-loading.ts); the memory of a long watch (bench/memory.ts). Run with
// `npm run bench` (after `npm run build`).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DetectionPipeline } from '../src/engine/detection-pipeline.ts';
import type { Recipe, RecipeException } from '../src/model/recipe.ts';
import { BUILTIN_RECIPES } from '../src/recipes/builtin-recipes.ts';
import { StraceEventStream } from '../src/sensors/strace/strace-event-stream.ts';
import { benchEbpfPrograms } from './ebpf-programs.ts';
import { benchStartup } from './startup.ts';
import { benchMemory } from './memory.ts';
import { benchEvidenceUnderLoad } from './evidence-under-load.ts';
import { benchDetectionLatency } from './detection-latency.ts';
import { benchFleet } from './fleet.ts';
import { benchRecipeLoading, benchReload } from './recipe-loading.ts';
import { median, startWatch, timeOnce, TRIPLINE } from './timing.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Workload {
  readonly name: string;
  readonly command: readonly string[];
}

const scratch = mkdtempSync(join(tmpdir(), 'tripline-bench-'));
// Every tripline the benches start (they inherit this environment) records into a store of the
// bench's own, never into the machine's (/var/lib/tripline for root): the cost of recording is
// measured, and the host's detection history is left alone.
process.env.TRIPLINE_STORE ??= join(scratch, 'bench-store.db');
const WORKLOADS: readonly Workload[] = [
  {
    name: 'stat-storm (50k fs.statSync)',
    command: ['node', '-e', "const fs=require('fs');for(let i=0;i<50000;i++)fs.statSync('/etc/hostname')"],
  },
  { name: 'tsc build of tripline', command: ['node', join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(scratch, 'out')] },
  { name: 'sysctl -a', command: ['sysctl', '-a'] },
  { name: 'sh loop, 20 cats', command: ['sh', '-c', 'for i in $(seq 20); do cat /proc/sys/net/core/somaxconn; done'] },
];

function benchWorkloads(): void {
  console.log(`# ptrace sensor: wall time, median of ${RUNS} alternating runs (bare, then under tripline run --quiet --sensor ptrace)`);
  console.log('workload'.padEnd(32), 'bare ms'.padStart(10), 'tripline ms'.padStart(12), 'ratio'.padStart(8));
  for (const w of WORKLOADS) {
    timeOnce(w.command); // warm caches once
    const bare: number[] = [];
    const traced: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(timeOnce(w.command));
      traced.push(timeOnce(['node', TRIPLINE, 'run', '--quiet', '--sensor', 'ptrace', '--', ...w.command]));
    }
    const b = median(bare);
    const t = median(traced);
    console.log(w.name.padEnd(32), b.toFixed(0).padStart(10), t.toFixed(0).padStart(12), `${(t / b).toFixed(2)}×`.padStart(8));
  }
}

async function benchEbpf(): Promise<void> {
  if (process.getuid?.() !== 0 || spawnSync('bpftrace', ['--version']).status !== 0) {
    console.log('\n# eBPF sensor: skipped (needs root and bpftrace)');
    return;
  }
  const workloads: readonly Workload[] = [
    { name: 'stat-storm (200k fs.statSync)', command: ['node', '-e', "const fs=require('fs');for(let i=0;i<200000;i++)fs.statSync('/etc/hostname')"] },
    WORKLOADS[1] ?? { name: 'none', command: ['true'] },
  ];
  console.log(`\n# eBPF sensor: the workload's wall time bare, and with tripline watch attached (host-wide),`);
  console.log(`# alternating, median of ${RUNS}; attaching and detaching happen outside the timed part.`);
  console.log('workload'.padEnd(32), 'bare ms'.padStart(10), 'watched ms'.padStart(12), 'ratio'.padStart(8));
  for (const w of workloads) {
    timeOnce(w.command);
    const bare: number[] = [];
    const watched: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(timeOnce(w.command));
      const stop = await startWatch();
      try {
        watched.push(timeOnce(w.command));
      } finally {
        await stop();
      }
    }
    const b = median(bare);
    const t = median(watched);
    console.log(w.name.padEnd(32), b.toFixed(0).padStart(10), t.toFixed(0).padStart(12), `${(t / b).toFixed(2)}×`.padStart(8));
  }
  const cmd = ['sh', '-c', 'exit 0'];
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push(timeOnce(['node', TRIPLINE, 'run', '--quiet', '--sensor', 'ebpf', '--', ...cmd]));
  console.log(`fixed cost of tripline run --sensor ebpf (attach + detach, median of 3): ${median(runs).toFixed(0)} ms`);
}

function benchReplay(): void {
  const text = readFileSync(join(ROOT, 'test/fixtures/strace/sysctl-a.strace'), 'utf8');
  const lines = text.split('\n');
  const rounds = 20;
  const replayOnce = (detect: boolean, recipes: readonly Recipe[] = BUILTIN_RECIPES): void => {
    const stream = new StraceEventStream();
    const pipeline = new DetectionPipeline({
      recipes, sessionId: 'bench', initialCwd: '/tmp',
      context: { environment: { kind: 'unknown', source: 'bench' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'strace', version: null } },
    });
    for (const line of lines) {
      const events = stream.push(line);
      if (detect) for (const e of events) pipeline.push(e);
    }
    pipeline.flush();
  };
  for (let i = 0; i < 3; i++) replayOnce(true);
  const measure = (detect: boolean, recipes?: readonly Recipe[]): number => {
    const start = performance.now();
    for (let i = 0; i < rounds; i++) replayOnce(detect, recipes);
    return ((performance.now() - start) * 1000) / (rounds * lines.length);
  };
  const parseOnly = measure(false);
  const full = measure(true);
  // Exceptions are checked for every access under a watched root: their cost, side by side.
  const builtin = BUILTIN_RECIPES[0];
  if (builtin === undefined) throw new Error('no built-in recipe');
  const none = [{ ...builtin, exceptions: [] }];
  const many = [{
    ...builtin,
    exceptions: [...builtin.exceptions, ...Array.from({ length: 50 }, (_, i) => ({ ...builtin.exceptions[0] as RecipeException, exe: [`/opt/app${String(i)}/bin/*`], argv: `app${String(i)} .*` }))],
  }];
  const variants: [string, number][] = [];
  for (let round = 0; round < 3; round++) {
    // The order rotates each round, so no variant always runs last (after the most garbage).
    const order: [string, readonly Recipe[] | undefined][] = [['none', none], ['builtin', undefined], ['many', many]];
    for (let k = 0; k < order.length; k++) {
      const [name, recipes] = order[(k + round) % order.length] ?? ['none', none];
      variants.push([name, measure(true, recipes)]);
    }
  }
  const med = (name: string): number => median(variants.filter(([n]) => n === name).map(([, v]) => v));
  console.log(`\n# user-space cost per strace line (replay of sysctl-a.strace, ${lines.length} lines × ${rounds})`);
  console.log(`parse + order:                 ${parseOnly.toFixed(2)} µs/line`);
  console.log(`parse + normalize + detect:    ${full.toFixed(2)} µs/line (${(1 / full).toFixed(2)} M lines/s)`);
  console.log(`exceptions: none ${med('none').toFixed(2)}, the ${String(builtin.exceptions.length)} defaults ${med('builtin').toFixed(2)} (${(med('builtin') / med('none')).toFixed(2)}×), ${String(builtin.exceptions.length + 50)} ${med('many').toFixed(2)} µs/line (${(med('many') / med('none')).toFixed(2)}×)`);
  console.log(`max RSS of this process:       ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

try {
  // BENCH_ONLY=replay (the user-space part, seconds instead of minutes), or a comma-separated
  // list of workloads, ebpf, programs, startup, replay, loading, memory, load, latency, fleet; everything when unset.
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const selected = (name: string): boolean => only === undefined || only.includes(name);
  if (selected('workloads')) benchWorkloads();
  if (selected('ebpf')) await benchEbpf();
  if (selected('programs')) await benchEbpfPrograms();
  if (selected('startup')) benchStartup();
  if (selected('replay')) benchReplay();
  if (selected('loading')) {
    benchRecipeLoading();
    await benchReload();
  }
  if (selected('memory')) await benchMemory();
  if (selected('load')) benchEvidenceUnderLoad();
  if (selected('fleet')) await benchFleet();
  if (selected('latency')) await benchDetectionLatency();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
