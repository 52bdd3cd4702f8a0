// The GitHub Action's main step: makes sure Tripline is built, then starts watching the job
// (src/action/main-phase.ts). Plain JavaScript so it runs before anything is compiled.
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
const { mainPhase } = await import('../dist/action/main-phase.js');
process.exitCode = await mainPhase(process.env);
