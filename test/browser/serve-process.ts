// Helper of the browser tests: runs the real `tripline serve` (bin/tripline.js, so dist/ must be
// built) in its own process group and waits for the URL it prints once listening.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cleanEnv, killGroup, TRIPLINE_BIN } from '../e2e/run-tripline.ts';

export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL to the group after 10 s). */
  stop(): Promise<number | null>;
}

/** Starts `tripline serve ARGS...`; rejects with its stderr when it exits before listening. */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [TRIPLINE_BIN, 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`tripline serve did not print its URL within ${String(timeoutMs)} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      const m = /^tripline serve: (http:\/\/\S+\/)/m.exec(stdout);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tripline serve exited with ${String(code)} before listening; stderr: ${stderr}`));
    });
  });
  return {
    url,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => { killGroup(child); }, 10_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}
