// Entry of the Action's pre step (action/dist/pre.js): starts watching before the job's first step.

import { prePhase } from '../pre-phase.ts';

process.exitCode = await prePhase(process.env);
