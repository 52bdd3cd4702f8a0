// Entry of the Action's main step (action/dist/main.js).

import { mainPhase } from '../main-phase.ts';

process.exitCode = await mainPhase(process.env);
