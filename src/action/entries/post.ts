// Entry of the Action's post step (action/dist/post.js).

import { postPhase } from '../post-phase.ts';

process.exitCode = await postPhase(process.env);
