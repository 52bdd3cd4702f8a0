// Entry of the bundled `tripline` command (action/dist/tripline.js): what bin/tripline.js is for
// a built checkout. The reload worker loads this bundle's code again in a worker thread: only
// the main thread runs the command line.

import { isMainThread } from 'node:worker_threads';
import { main } from '../../cli/main.ts';

if (isMainThread) {
  // A reader that went away (a closed pipe) must not bring tripline down mid-run.
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', () => undefined);
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
}
