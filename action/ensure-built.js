// A checkout of the action has sources, not dist/: build once with the locked dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function ensureBuilt() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (existsSync(new URL('../dist/action/main-phase.js', import.meta.url))) return;
  console.log('Tripline: building the action (npm ci) ...');
  // npm ci runs the prepare script, which compiles TypeScript into dist/.
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm ci failed in ${root} (exit ${String(r.status)})`);
}
