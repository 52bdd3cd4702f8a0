// BENCH_ONLY=load: is evidence complete on a busy machine? 100 sibling scripts, 10 at a time,
// each reading one setting in each of three areas, run under `tripline run` with each sensor,
// side by side, with and without a busy loop on every core. Prints accesses seen / expected,
// detections / expected, what the sensor said it lost, and the run's time.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Detection } from '../src/model/detection.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SCRIPTS = 100;
const FILES = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'];

function hog(): () => void {
  const loops = Array.from({ length: availableParallelism() }, () => spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
  return () => {
    for (const l of loops) {
      try {
        if (l.pid !== undefined) process.kill(-l.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
}

function once(sensor: string, dir: string, script: string): string {
  const jsonl = join(dir, `${sensor}.jsonl`);
  rmSync(jsonl, { force: true });
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/tripline.js'), 'run', '--sensor', sensor, '--quiet', '--jsonl', jsonl, '--', 'sh', '-c', `seq ${String(SCRIPTS)} | xargs -P 10 -I{} ${script} c{}`], { encoding: 'utf8', cwd: dir });
  const seconds = (Date.now() - started) / 1000;
  const detections = existsSync(jsonl) ? readFileSync(jsonl, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Detection) : [];
  const reads = detections.flatMap((d) => d.evidence.files.filter((f) => f.actions.includes('read')).flatMap((f) => f.pids)).length;
  const scripts = detections.filter((d) => d.subject.process.argv.includes(script)).length;
  const incomplete = detections.filter((d) => !d.sensor.complete).length;
  const said = /lost|late|without their fork|incomplete/.test(r.stderr) ? r.stderr.trim().split('\n').at(-1) ?? '' : 'nothing';
  return `${sensor.padEnd(6)} reads ${String(reads).padStart(3)}/${String(SCRIPTS * 3)}  script detections ${String(scripts).padStart(3)}/${String(SCRIPTS)} (of ${String(detections.length)})  incomplete ${String(incomplete)}  ${seconds.toFixed(1)} s  sensor said: ${said}`;
}

export function benchEvidenceUnderLoad(rounds = Number(process.env.BENCH_LOAD_ROUNDS ?? 3)): void {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-load-'));
  try {
    const script = join(dir, 'c.sh');
    writeFileSync(script, `#!/bin/sh\n${FILES.map((f) => `cat /proc/sys/net/${f} >/dev/null`).join('\n')}\n`);
    chmodSync(script, 0o755);
    const sensors = process.getuid?.() === 0 && spawnSync('bpftrace', ['--version']).status === 0 ? ['ptrace', 'ebpf'] : ['ptrace'];
    console.log(`\nevidence under load: ${String(SCRIPTS)} scripts x 3 areas, 10 at a time (${String(rounds)} round(s), sensors side by side)`);
    for (let round = 1; round <= rounds; round++) {
      for (const loaded of [false, true]) {
        const stop = loaded ? hog() : () => undefined;
        try {
          for (const s of sensors) console.log(`round ${String(round)} ${(loaded ? 'busy loop per core' : 'idle').padEnd(18)}  ${once(s, dir, script)}`);
        } finally {
          stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
