// The two eBPF programs side by side: Tripline's compiled sensor (libbpf, CO-RE) and
// bpftrace's (tripline.bt), with the bare workload and strace alone beside them. Alternating
// runs in one process, medians. Part of `npm run bench` (BENCH_ONLY=programs for this alone);
// needs root, bpftrace and the shipped sensor binary.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { COMPILED_SENSOR_PATH, PROGRAM_PATH } from '../src/sensors/ebpf-sensor.ts';
import { median, startWatch, timeOnce, TRIPLINE } from './timing.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
type Program = 'compiled' | 'bpftrace';
const PROGRAMS: readonly Program[] = ['compiled', 'bpftrace'];

function envFor(program: Program): NodeJS.ProcessEnv {
  return { ...process.env, TRIPLINE_EBPF_PROGRAM: program };
}

/** Attach: from spawn to the program's READY; detach: from SIGINT to its exit. */
async function attachDetach(program: Program): Promise<{ attachMs: number; detachMs: number }> {
  const params = [String(process.pid), String(statSync('/proc').dev), '0'];
  const start = performance.now();
  const child = program === 'compiled'
    ? spawn(COMPILED_SENSOR_PATH, params, { stdio: ['ignore', 'pipe', 'ignore'] })
    : spawn('bpftrace', ['-B', 'none', PROGRAM_PATH, ...params], {
      stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, BPFTRACE_STRLEN: '52', BPFTRACE_PERF_RB_PAGES: '1024', BPFTRACE_MAP_KEYS_MAX: '65536' },
    });
  await new Promise<void>((resolve, reject) => {
    let seen = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]).subarray(-4096);
      // The compiled sensor writes its TIER and READY records together once attached (its first
      // bytes); bpftrace prints a READY line.
      if (program === 'compiled' ? seen.length >= 4 : seen.includes('READY\t')) resolve();
    });
    child.once('exit', () => {
      reject(new Error(`${program} exited before attaching`));
    });
  });
  const attachMs = performance.now() - start;
  const stopAt = performance.now();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stdout.resume();
  child.kill('SIGINT');
  await exited;
  return { attachMs, detachMs: performance.now() - stopAt };
}

function row(name: string, cells: readonly string[]): void {
  console.log(name.padEnd(34), ...cells.map((c) => c.padStart(13)));
}

const STORM = ['node', '-e', "const fs=require('fs');for(let i=0;i<200000;i++)fs.statSync('/etc/hostname')"];

export async function benchEbpfPrograms(): Promise<void> {
  if (process.getuid?.() !== 0 || spawnSync('bpftrace', ['--version']).status !== 0) {
    console.log('\n# eBPF programs: skipped (needs root and bpftrace)');
    return;
  }
  console.log(`\n# eBPF programs side by side (compiled sensor vs bpftrace), medians of ${RUNS} alternating runs`);
  const attach: Record<Program, number[]> = { compiled: [], bpftrace: [] };
  const detach: Record<Program, number[]> = { compiled: [], bpftrace: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const p of PROGRAMS) {
      const r = await attachDetach(p);
      attach[p].push(r.attachMs);
      detach[p].push(r.detachMs);
    }
  }
  row('', ['compiled', 'bpftrace']);
  row('attach (spawn to READY), ms', PROGRAMS.map((p) => median(attach[p]).toFixed(0)));
  row('detach (SIGINT to exit), ms', PROGRAMS.map((p) => median(detach[p]).toFixed(0)));

  // `run --sensor ebpf -- true` over bare `true`: the whole fixed cost a CI step pays.
  const fixed: Record<Program | 'bare', number[]> = { compiled: [], bpftrace: [], bare: [] };
  for (let i = 0; i < RUNS; i++) {
    fixed.bare.push(timeOnce(['true']));
    for (const p of PROGRAMS) fixed[p].push(timeOnce(['node', TRIPLINE, 'run', '--quiet', '--sensor', 'ebpf', '--', 'true'], envFor(p)));
  }
  row('run --sensor ebpf -- true, ms', PROGRAMS.map((p) => median(fixed[p]).toFixed(0)));
  row('  over bare true, ms', PROGRAMS.map((p) => (median(fixed[p]) - median(fixed.bare)).toFixed(0)));

  // Workloads: bare, under run, under watch (host-wide), and strace alone for scale.
  const scratch = mkdtempSync(join(tmpdir(), 'tripline-bench-'));
  try {
    const workloads = [
      { name: 'stat storm, 200k fs.statSync', command: STORM },
      { name: 'tsc build of tripline', command: ['node', join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(scratch, 'out')] },
    ];
    console.log('\n# workload wall time, ms (ratio to bare)');
    row('workload', ['bare', 'run compiled', 'run bpftrace', 'watch compiled', 'watch bpftrace', 'strace -f']);
    for (const w of workloads) {
      timeOnce(w.command);
      const t: Record<string, number[]> = { bare: [], runc: [], runb: [], watchc: [], watchb: [], strace: [] };
      for (let i = 0; i < RUNS; i++) {
        t.bare?.push(timeOnce(w.command));
        t.runc?.push(timeOnce(['node', TRIPLINE, 'run', '--quiet', '--sensor', 'ebpf', '--', ...w.command], envFor('compiled')));
        t.runb?.push(timeOnce(['node', TRIPLINE, 'run', '--quiet', '--sensor', 'ebpf', '--', ...w.command], envFor('bpftrace')));
        for (const p of PROGRAMS) {
          const stop = await startWatch(envFor(p));
          try {
            t[p === 'compiled' ? 'watchc' : 'watchb']?.push(timeOnce(w.command));
          } finally {
            await stop();
          }
        }
        t.strace?.push(timeOnce(['strace', '-f', '-qq', '-o', '/dev/null', '--', ...w.command]));
      }
      const bare = median(t.bare ?? []);
      const cell = (k: string): string => {
        const m = median(t[k] ?? []);
        return k === 'bare' ? m.toFixed(0) : `${m.toFixed(0)} (${(m / bare).toFixed(2)}×)`;
      };
      row(w.name, ['bare', 'runc', 'runb', 'watchc', 'watchb', 'strace'].map(cell));
    }
    console.log('  (run includes attach and detach; watch was attached before the timed part)');
    sysctlUnderStorm(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** 20 `sysctl -a` in parallel with a stat storm, under run: every directory of every sysctl counted, or the loss said. */
function sysctlUnderStorm(scratch: string): void {
  const expected = Number(spawnSync('sh', ['-c', 'find /proc/sys/net -mindepth 1 -type d | wc -l'], { encoding: 'utf8' }).stdout.trim());
  console.log(`\n# 20 sysctl -a in parallel with a 200k stat storm, under run --sensor ebpf (each sysctl reads ${String(expected)} directories)`);
  row('program', ['detections', 'dirs counted', 'dirs expected', 'lost (said)']);
  for (const p of PROGRAMS) {
    const jsonl = join(scratch, `${p}.jsonl`);
    const script = `${STORM.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')} & for i in $(seq 20); do sysctl -a >/dev/null 2>&1 & done; wait`;
    const r = spawnSync('node', [TRIPLINE, 'run', '--quiet', '--sensor', 'ebpf', '--jsonl', jsonl, '--', 'sh', '-c', script], { env: envFor(p), encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 1) throw new Error(`run exited ${String(r.status)}: ${r.stderr}`);
    const lines = readFileSync(jsonl, 'utf8').split('\n').filter((l) => l !== '');
    const ds = lines.map((l) => JSON.parse(l) as { subject: { process: { comm: string } }; evidence: { directoryCount: number }; sensor?: { eventsLost?: number } });
    const sysctls = ds.filter((d) => d.subject.process.comm === 'sysctl');
    const counted = sysctls.reduce((n, d) => n + d.evidence.directoryCount, 0);
    const lost = ds.reduce((n, d) => n + (d.sensor?.eventsLost ?? 0), 0);
    row(p, [String(sysctls.length), String(counted), String(expected * 20), String(lost)]);
  }
}
