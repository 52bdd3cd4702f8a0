// `tripline watch`: the host-wide daemon. Every process on the host under the eBPF sensor,
// each detection printed as it is made and reported when final, until SIGINT/SIGTERM. If
// bpftrace dies it is restarted with backoff and the gap is reported.

import { ConfigError, loadTriplineConfig, type ConfigFlags } from '../config/tripline-config.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { formatDetection } from '../outputs/text-report.ts';
import { BpftraceSensor, probeBpftrace, unwatchedByEbpf } from '../sensors/bpftrace/bpftrace-sensor.ts';
import { LIVE_PROCFS } from '../sensors/procfs-reader.ts';
import { DAEMON_SESSION, DetectionSession, type CliIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { WATCH_HELP } from './help-text.ts';
import { parseCommandOptions } from './command-options.ts';

interface WatchOptions {
  readonly config: string | undefined;
  readonly outputs: readonly string[];
  readonly jsonl: string | undefined;
  readonly environment: string | undefined;
  readonly quiet: boolean;
}

export function parseWatchOptions(args: readonly string[]): WatchOptions | 'help' {
  const o = parseCommandOptions('watch', args, { values: ['config', 'jsonl', 'environment'], repeatable: ['output'], flags: ['quiet'] });
  if (o.help) return 'help';
  return {
    config: o.values.get('config'), outputs: o.lists.get('output') ?? [], jsonl: o.values.get('jsonl'),
    environment: o.values.get('environment'), quiet: o.flags.has('quiet'),
  };
}

const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000] as const;

export async function watchCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseWatchOptions(args);
  if (options === 'help') {
    io.stderr.write(`${WATCH_HELP}\n`);
    return EXIT.ok;
  }
  // SIGHUP is taken from the start to the very end: its default action would kill the daemon
  // (before it watches, or while it writes its last detections). Until watching, it is ignored.
  let reload: () => void = () => undefined;
  const onReload = (): void => {
    reload();
  };
  process.on('SIGHUP', onReload);
  try {
    return await watchWithReload(options, io, (r) => { reload = r; });
  } finally {
    process.off('SIGHUP', onReload);
  }
}

async function watchWithReload(options: WatchOptions, io: CliIo, setReload: (reload: () => void) => void): Promise<number> {
  const flags: ConfigFlags = { config: options.config, environment: options.environment, jsonl: options.jsonl, outputs: options.outputs };
  const config = loadTriplineConfig(flags, io.env, io.cwd);
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  const install = probeBpftrace(io.env);
  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  const session: DetectionSession = new DetectionSession({
    command: 'watch', environment: config.environment, recipes: config.recipes, outputs: config.outputs, ...DAEMON_SESSION, notices: true,
    sensor: { name: 'bpftrace', version: install.version },
    onClosed: (d) => {
      if (!options.quiet) session.say(`\n${formatDetection(d, session.palette, width)}\n`);
    },
  }, io);

  let stopping = false;
  let restarts = 0;
  let lostReported = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  /** One restart chain at a time: each failure schedules the next try, with growing delays. */
  const scheduleRestart = (why: string): void => {
    if (stopping) return;
    const since = new Date().toISOString();
    const delay = BACKOFF_MS[Math.min(restarts, BACKOFF_MS.length - 1)] ?? 30_000;
    restarts++;
    session.say(`tripline: warning: ${why}; nothing is watched from ${since}; restarting in ${delay / 1000} s`);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopping) return;
      sensor.start().then(
        () => {
          session.say(`tripline: watching again; the gap ran from ${since} to ${new Date().toISOString()}`);
        },
        (error: unknown) => {
          scheduleRestart(`restarting bpftrace failed: ${(error as Error).message}`);
        },
      );
    }, delay);
  };
  const sensor: BpftraceSensor = new BpftraceSensor({
    install,
    procfs: LIVE_PROCFS,
    onEvents: (events) => {
      session.push(events);
    },
    onDied: (code, signal, stderr) => {
      scheduleRestart(`bpftrace ended (${signal ?? `exit ${String(code)}`})${stderr === '' ? '' : `: ${stderr}`}`);
    },
  });
  const onSignal = (): void => {
    stop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const suppressedReported = new Map<string, number>();
  const ticker = setInterval(() => {
    session.tick(sensor.nowMs());
    const lost = sensor.stats.lost;
    if (lost > lostReported) {
      session.say(`tripline: warning: bpftrace lost ${lost - lostReported} event(s) (${lost} in all): its buffers overflowed, some accesses were not seen`);
      lostReported = lost;
    }
    // A recipe's limits holding detections back is said as it happens, not only at stop.
    for (const [limit, count] of session.pipeline.engine.suppressed) {
      if (count <= (suppressedReported.get(limit) ?? 0)) continue;
      session.say(`tripline: ${String(count)} detection(s) not raised so far: limit ${limit} reached`);
      suppressedReported.set(limit, count);
    }
  }, 1_000);
  try {
    await sensor.start();
    for (const note of unwatchedByEbpf(config.recipes)) session.say(`tripline: warning: ${note}`);
    setReload(() => {
      if (stopping) return;
      // Log rotation: output files are opened afresh at their paths (and failing ones retried now).
      session.reopenOutputs();
      reloadRecipes(flags, io, session);
    });
    session.say(`tripline: watching every process on ${session.pipeline.engine.watchedRoots.join(', ')} (eBPF, bpftrace ${install.version}; recipes: ${config.recipes.map((r) => r.id).join(', ')}); SIGHUP reloads the recipes and reopens output files, Ctrl-C or SIGTERM stops`);
    await stopped;
  } finally {
    stopping = true;
    setReload(() => undefined);
    clearInterval(ticker);
    if (restartTimer !== undefined) clearTimeout(restartTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sensor.stop(0);
    await session.finish();
  }
  for (const line of session.policyNotes()) session.say(`tripline: ${line}`);
  const lostNote = sensor.stats.lost > 0 ? `, ${sensor.stats.lost} event(s) lost` : '';
  // What outputs could not do (unwritten detections, webhook failures, queue drops): warnings, and
  // the unwritten counts again in the last line, per output. The exit status stays 0 (see docs/outputs.md).
  for (const line of session.outputFailures) session.say(`tripline: warning: ${line}`);
  const unwritten = session.outputLosses().filter((l) => l.detections > 0).map((l) => `, ${String(l.detections)} not written to ${l.name}`).join('');
  session.say(`tripline: stopped; ${session.detectionCount} detection(s)${unwritten}${lostNote}${restarts > 0 ? `, bpftrace restarted ${restarts} time(s)` : ''}`);
  return EXIT.ok;
}

/**
 * SIGHUP: reads the configuration and every recipe again and swaps them in only if all of it
 * is valid; otherwise the running set stays and the problems are logged. Detections open at
 * that moment are closed and reported. The environment and outputs are kept from the start.
 */
function reloadRecipes(flags: ConfigFlags, io: CliIo, session: DetectionSession): void {
  const current = session.pipeline.engine.activeRecipes;
  const keep = `keeping the ${String(current.length)} recipe(s) running (${current.map((r) => r.id).join(', ')})`;
  let next;
  try {
    next = loadTriplineConfig(flags, io.env, io.cwd);
  } catch (error) {
    // Whatever went wrong, the daemon keeps watching with what it has.
    if (!(error instanceof ConfigError)) {
      session.say(`tripline: reload failed: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}; ${keep}`);
      return;
    }
    session.say(`tripline: reload failed: ${error.message}; ${keep}`);
    for (const d of error.diagnostics) session.say(`tripline: ${formatDiagnostic(d)}`);
    return;
  }
  if (hasErrors(next.recipeDiagnostics)) {
    session.say(`tripline: reload failed: a recipe file has errors; ${keep}`);
    for (const d of next.recipeDiagnostics) session.say(`tripline: ${formatDiagnostic(d)}`);
    return;
  }
  for (const d of next.recipeDiagnostics) session.say(`tripline: ${formatDiagnostic(d)}`);
  session.replaceRecipes(next.recipes);
  for (const note of unwatchedByEbpf(next.recipes)) session.say(`tripline: warning: ${note}`);
  session.say(`tripline: reloaded: ${String(next.recipes.length)} recipe(s) (${next.recipes.map((r) => r.id).join(', ')}), ${String(next.recipes.reduce((n, r) => n + r.exceptions.length, 0))} exception(s)`);
}
