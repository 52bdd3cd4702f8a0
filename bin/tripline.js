#!/usr/bin/env node
// Entry point of the tripline command: runs the compiled CLI (npm run build makes dist/).
import { main } from '../dist/cli/main.js';

// A reader that went away (a closed pipe) must not bring tripline down mid-run.
process.stderr.on('error', () => undefined);
process.stdout.on('error', () => undefined);
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
process.exitCode = code;
