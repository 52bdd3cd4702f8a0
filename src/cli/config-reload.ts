// Reloading the configuration and recipes without stopping the daemon's event processing: the
// files are read, parsed and checked in a worker thread (a 1 MiB recipe can take seconds), and
// only the result comes back to the main thread, where the swap is done. One reload at a
// time; a SIGHUP during one asks for another after it.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ConfigError, loadTriplineConfig, type ConfigFlags, type TriplineConfig } from '../config/tripline-config.ts';
import type { Diagnostic } from '../model/diagnostic.ts';

export type ReloadOutcome =
  | { readonly kind: 'loaded'; readonly config: TriplineConfig }
  /** The configuration file is wrong: the running set stays. */
  | { readonly kind: 'config-error'; readonly message: string; readonly diagnostics: readonly Diagnostic[] }
  /** Anything else (a bug, the worker died or took too long): the running set stays. */
  | { readonly kind: 'failed'; readonly message: string };

interface ReloadRequest {
  readonly kind: 'tripline-config-reload';
  readonly flags: ConfigFlags;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** How long a reload may take before the worker is stopped and the reload reported as failed. */
const RELOAD_TIMEOUT_MS = 60_000;

/** Loads the configuration exactly as `loadTriplineConfig` would, but in a worker thread. */
export function loadConfigOffThread(flags: ConfigFlags, env: NodeJS.ProcessEnv, cwd: string, timeoutMs = RELOAD_TIMEOUT_MS): { result: Promise<ReloadOutcome>; cancel: () => void } {
  const request: ReloadRequest = { kind: 'tripline-config-reload', flags, env: { ...env }, cwd };
  const worker = startWorker(request);
  let settle: (outcome: ReloadOutcome) => void = () => undefined;
  const result = new Promise<ReloadOutcome>((resolve) => {
    let done = false;
    settle = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
      void worker.terminate();
    };
    const timer = setTimeout(() => { settle({ kind: 'failed', message: `reading the configuration took longer than ${String(timeoutMs / 1000)} s` }); }, timeoutMs);
    timer.unref();
    worker.once('message', (outcome: ReloadOutcome) => { settle(outcome); });
    worker.once('error', (error) => { settle({ kind: 'failed', message: `internal error: ${error.stack ?? error.message}` }); });
    worker.once('exit', (code) => { settle({ kind: 'failed', message: `the reload worker ended (exit ${String(code)}) without an answer` }); });
  });
  return { result, cancel: () => { settle({ kind: 'failed', message: 'cancelled' }); } };
}

/** This same module is the worker's code: from dist/ once built, from src/ under tsx. */
function startWorker(request: ReloadRequest): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: request });
  // From the sources (development, tests): a worker does not inherit tsx's hooks, so it registers them first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(code, { eval: true, workerData: request });
}

/**
 * Serializes reloads: `request()` starts one, or, while one runs, asks for one more after it
 * (any number of SIGHUPs during a reload make one more). `apply` runs on the main thread with
 * each outcome; `cancel()` (at stop) stops the one running and applies nothing more.
 */
export class ConfigReloader {
  private running: { cancel: () => void } | undefined;
  private again = false;
  private cancelled = false;

  constructor(
    private readonly load: () => { result: Promise<ReloadOutcome>; cancel: () => void },
    private readonly apply: (outcome: ReloadOutcome) => void,
  ) {}

  request(): void {
    if (this.cancelled) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    const started = this.load();
    this.running = started;
    void started.result.then((outcome) => {
      this.running = undefined;
      if (this.cancelled) return;
      this.apply(outcome);
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
  }

  /** Whether a reload is under way. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  cancel(): void {
    this.cancelled = true;
    this.running?.cancel();
  }
}

/** The worker's side: load, answer, end. Never throws (every failure is an outcome). */
function serveReload(request: ReloadRequest): void {
  let outcome: ReloadOutcome;
  try {
    outcome = { kind: 'loaded', config: loadTriplineConfig(request.flags, request.env, request.cwd) };
  } catch (error) {
    outcome = error instanceof ConfigError
      ? { kind: 'config-error', message: error.message, diagnostics: error.diagnostics }
      : { kind: 'failed', message: `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` };
  }
  try {
    parentPort?.postMessage(outcome);
  } catch (error) {
    // Something in the result cannot be copied to the main thread: a bug, said as one.
    parentPort?.postMessage({ kind: 'failed', message: `internal error: the configuration could not be sent back: ${(error as Error).message}` } satisfies ReloadOutcome);
  }
}

const data: unknown = isMainThread ? undefined : workerData;
if (typeof data === 'object' && data !== null && (data as { kind?: unknown }).kind === 'tripline-config-reload') serveReload(data as ReloadRequest);
