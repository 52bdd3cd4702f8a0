// Loading time of large recipe files, side by side for 6,000, 12,000 and 24,000 keys: a valid
// recipe with many exceptions, and a recipe with that many unknown keys (every one a schema
// error). The ratios show whether loading is linear (2× the keys should take about 2× the
// time). Then a SIGHUP reload of the 24,000-key recipe as `watch` does it (read in a worker,
// swapped here) and the longest the main thread stopped meanwhile. `BENCH_ONLY=loading npm run bench`.

import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadConfigOffThread } from '../src/cli/config-reload.ts';
import { loadTriplineConfig } from '../src/config/tripline-config.ts';
import { DetectionPipeline } from '../src/engine/detection-pipeline.ts';
import { parseRecipe } from '../src/recipes/recipe-loader.ts';
import { BUILTIN_RECIPES } from '../src/recipes/builtin-recipes.ts';

const BUILTIN = new URL('../recipes/builtin/os_network_fingerprint.yaml', import.meta.url);

/** The built-in recipe under another id, with `keys / 4` more exceptions of 4 keys each (valid). */
export function recipeWithExceptions(keys: number): string {
  const base = readFileSync(BUILTIN, 'utf8').replace(/^id: os_network_fingerprint$/m, 'id: many_exceptions');
  const extra = Array.from({ length: Math.floor(keys / 4) }, (_, i) =>
    `  - name: app ${String(i)}\n    reason: generated\n    exe: /opt/app${String(i)}/bin/server\n    uid: ${String(1000 + i)}\n`).join('');
  return base.replace(/^exceptions:\n/m, `exceptions:\n${extra}`);
}

/** The built-in recipe under another id, followed by `keys` unknown top-level keys (each one an error). */
export function recipeWithUnknownKeys(keys: number): string {
  const base = readFileSync(BUILTIN, 'utf8').replace(/^id: os_network_fingerprint$/m, 'id: unknown_keys');
  return `${base}${Array.from({ length: keys }, (_, i) => `extra_key_${String(i)}: ${String(i)}\n`).join('')}`;
}

function timeLoad(text: string, runs: number): { ms: number; ok: boolean; diagnostics: number } {
  const times: number[] = [];
  let last: ReturnType<typeof parseRecipe> | undefined;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    last = parseRecipe(text, 'bench.yaml');
    times.push(performance.now() - start);
  }
  // The fastest run: the others lost time to the garbage collector and to other processes.
  return { ms: Math.min(...times), ok: last?.recipe !== undefined, diagnostics: last?.diagnostics.length ?? 0 };
}

export function benchRecipeLoading(): void {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  parseRecipe(recipeWithExceptions(400), 'warm.yaml');
  console.log(`\n# recipe loading (parse, schema, semantic checks), fastest of ${String(runs)}; 2× the keys should take about 2× the time`);
  console.log('keys'.padStart(7), 'kind'.padEnd(26), 'KiB'.padStart(6), 'ms'.padStart(8), 'ratio'.padStart(7), 'result');
  for (const [kind, make] of [['valid, many exceptions', recipeWithExceptions], ['unknown keys (errors)', recipeWithUnknownKeys]] as const) {
    let previous: number | undefined;
    for (const keys of [6_000, 12_000, 24_000]) {
      const text = make(keys);
      const r = timeLoad(text, runs);
      const ratio = previous === undefined ? '' : `${(r.ms / previous).toFixed(2)}×`;
      previous = r.ms;
      console.log(String(keys).padStart(7), kind.padEnd(26), (text.length / 1024).toFixed(0).padStart(6), r.ms.toFixed(0).padStart(8), ratio.padStart(7), r.ok ? 'loaded' : `${String(r.diagnostics)} diagnostic(s)`);
    }
  }
}

/** The longest event-loop stall (ms) while `work` runs, sampled every 10 ms. */
async function longestStall(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  await work();
  histogram.disable();
  return histogram.max / 1e6;
}

/** A reload of a configuration whose recipe directory holds the 24,000-key recipe: in a worker, then synchronously (as before). */
export async function benchReload(): Promise<void> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-bench-reload-')));
  try {
    mkdirSync(join(dir, 'recipes'));
    writeFileSync(join(dir, 'recipes', 'big.yaml'), recipeWithExceptions(24_000));
    writeFileSync(join(dir, 'tripline.yaml'), 'recipes:\n  directories: [recipes]\n');
    const pipeline = new DetectionPipeline({
      recipes: BUILTIN_RECIPES, sessionId: 'bench', initialCwd: '/',
      context: { environment: { kind: 'unknown', source: 'bench' }, host: { hostname: 'h', kernel: 'k', container: null }, sensor: { name: 'bench', version: null } },
    });
    console.log('\n# SIGHUP reload of a configuration with the 24,000-key recipe: wall time, and the longest the main thread stopped (event-loop delay, 10 ms sampling)');
    for (let round = 0; round < 2; round++) {
      let wall = 0;
      let swap = 0;
      const worker = await longestStall(async () => {
        const start = performance.now();
        const outcome = await loadConfigOffThread({}, {}, dir).result;
        if (outcome.kind !== 'loaded') throw new Error(JSON.stringify(outcome));
        const swapStart = performance.now();
        pipeline.replaceRecipes(outcome.config.recipes);
        swap = performance.now() - swapStart;
        wall = performance.now() - start;
      });
      let syncWall = 0;
      const sync = await longestStall(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const start = performance.now();
        pipeline.replaceRecipes(loadTriplineConfig({}, {}, dir).recipes);
        syncWall = performance.now() - start;
        await new Promise((resolve) => setTimeout(resolve, 20));
      });
      console.log(`worker + swap: ${wall.toFixed(0)} ms, main thread stopped at most ${worker.toFixed(0)} ms (the swap: ${swap.toFixed(0)} ms); loaded on the main thread: ${syncWall.toFixed(0)} ms, stopped ${sync.toFixed(0)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
