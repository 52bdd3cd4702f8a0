// The GitHub Action's post step: stops the watch and reports (src/action/post-phase.ts).
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
const { postPhase } = await import('../dist/action/post-phase.js');
process.exitCode = await postPhase(process.env);
