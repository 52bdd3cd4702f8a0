// The Action's pre step: runs when the job starts, before its first step (the checkout), and
// starts the watch there, so that nothing the job runs comes before it. The main step then
// only says so; if the pre step could not watch, the main step reports why (run mode).

import { checkInputs, setUpTime, startWatch } from './main-phase.ts';
import { input, saveState, type Env } from './runner-files.ts';

export async function prePhase(env: Env): Promise<number> {
  if (!checkInputs(env)) return 1;
  const mode = input(env, 'mode', 'auto');
  if (mode === 'run') return 0;
  const started = await startWatch(env);
  if ('state' in started) {
    saveState(env, started.state);
    console.log(`Tripline is watching every process of this job from its start (eBPF, ready ${setUpTime()} after the step started). Log: ${started.state.log ?? '?'}`);
    return 0;
  }
  if (mode === 'watch') {
    console.log(`::error title=Tripline::cannot watch this job: ${started.why}`);
    return 1;
  }
  // auto: the main step falls back to run mode and says why, without trying again.
  saveState(env, { prewhy: started.why });
  return 0;
}
