// `tripline watch`: the host-wide daemon. Every process on the host under the eBPF sensor,
// each detection printed as it is made and reported when final, until SIGINT/SIGTERM. If
// the sensor (the compiled eBPF sensor, or bpftrace) dies it is restarted with backoff and the gap is reported.

import { loadTriplineConfig, type ConfigFlags } from '../config/tripline-config.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { formatDetection } from '../outputs/text-report.ts';
import { EbpfSensor, kernelRoots, probeEbpf, sensorName } from '../sensors/ebpf-sensor.ts';
import type { Sensor, SensorHealth } from '../sensors/sensor.ts';
import { SensorSupervisor, WATCH_RESTART_DELAYS_MS } from '../sensors/sensor-supervisor.ts';
import { visible } from '../model/visible.ts';
import { UsageError } from './usage-error.ts';
import { LIVE_PROCFS } from '../sensors/procfs-reader.ts';
import { StepTracker } from '../context/step-attribution.ts';
import { CgroupPaths } from '../context/cgroup-paths.ts';
import { ContainerTracker } from '../context/container-identity.ts';
import { DockerApiResolver, ResolverChain } from '../context/runtime-client.ts';
import { RuntimeStateResolver } from '../context/runtime-state-reader.ts';
import { SensorUnavailableError } from '../sensors/sensor-errors.ts';
import { ConfigReloader, loadConfigOffThread, type ReloadOutcome } from './config-reload.ts';
import { DAEMON_SESSION, DetectionSession, type CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { WATCH_HELP } from './help-text.ts';
import { parseCommandLine } from './command-line.ts';
import { storeSettings } from './run-options.ts';
import { MAINTENANCE_INTERVAL_MS } from '../store/session-store.ts';

interface WatchOptions {
  readonly config: string | undefined;
  readonly outputs: readonly string[];
  readonly jsonl: string | undefined;
  readonly jsonlFinalOnly: true | undefined;
  readonly environment: string | undefined;
  readonly quiet: boolean;
  /** Seconds between health lines (events/s, lost, late, gaps); 0 turns them off. */
  readonly healthIntervalS: number;
  readonly store: string | undefined;
  readonly noStore: boolean;
}

/** How often watch stores a health sample of the sensor (and once more at stop). */
const HEALTH_SAMPLE_MS = 60_000;

/** An attach that takes longer than this is said while it happens. */
const ATTACH_NOTICE_MS = 1_000;

export function parseWatchOptions(args: readonly string[]): WatchOptions | 'help' {
  const o = parseCommandLine({
    command: 'watch',
    options: {
      config: { type: 'string' }, jsonl: { type: 'string' }, 'jsonl-final-only': { type: 'boolean' }, environment: { type: 'string' }, 'health-interval': { type: 'string' },
      output: { type: 'string', multiple: true }, quiet: { type: 'boolean', short: 'q' }, store: { type: 'string' }, 'no-store': { type: 'boolean' },
    },
    operands: 'none',
  }, args);
  if (o.help) return 'help';
  const health = o.values.get('health-interval') ?? '60';
  if (!/^\d{1,6}$/.test(health)) throw new UsageError(`watch: --health-interval takes whole seconds (0 turns the health line off), not "${visible(health)}"`);
  return {
    config: o.values.get('config'), outputs: o.lists.get('output') ?? [], jsonl: o.values.get('jsonl'), jsonlFinalOnly: o.flags.has('jsonl-final-only') ? true : undefined,
    environment: o.values.get('environment'), quiet: o.flags.has('quiet'), healthIntervalS: Number(health),
    store: o.values.get('store'), noStore: o.flags.has('no-store'),
  };
}

export async function watchCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseWatchOptions(args);
  if (options === 'help') {
    io.stdout.write(`${WATCH_HELP}\n`);
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

async function watchWithReload(options: WatchOptions, io: CommandIo, setReload: (reload: () => void) => void): Promise<number> {
  const flags: ConfigFlags = { config: options.config, environment: options.environment, jsonl: options.jsonl, jsonlFinalOnly: options.jsonlFinalOnly, outputs: options.outputs,
    store: options.store, noStore: options.noStore };
  const config = loadTriplineConfig(flags, io.env, io.cwd);
  for (const d of config.recipeDiagnostics) io.stderr.write(`tripline: ${formatDiagnostic(d)}\n`);
  // The probes' own hint names run's --sensor ptrace, which watch does not take: say what works here.
  if (process.getuid?.() !== 0) {
    throw new SensorUnavailableError('tripline watch needs root: it loads eBPF programs (CAP_BPF and CAP_PERFMON) to watch every process on the host', 'run it with sudo; without root, wrap one command instead: tripline run -- COMMAND (ptrace, no privileges needed)');
  }
  const install = probeEbpf(io.env);
  const width = io.stderr.columns > 0 ? Math.min(io.stderr.columns, 120) : 100;
  // In GitHub Actions, the workflow step of each process, read from its environment when first seen.
  const steps = io.env.GITHUB_ACTIONS === 'true' ? new StepTracker() : undefined;
  // The container of each process, from the cgroup id the kernel put in its EXEC/FORK record and
  // from /proc when first seen; the runtime is asked about each container once, in the background:
  // containerd's and cri-o's state files (Kubernetes nodes), then the Docker API (Docker, podman).
  const runtimeState = new RuntimeStateResolver({ warn: (message) => { session.say(`tripline: warning: ${visible(message)}`); } });
  const containers = new ContainerTracker(new ResolverChain([runtimeState, new DockerApiResolver()]), undefined, undefined, new CgroupPaths());
  const session: DetectionSession = new DetectionSession({
    command: 'watch', environment: config.environment, recipes: config.recipes, outputs: config.outputs, ...DAEMON_SESSION, notices: true, ...(steps === undefined ? {} : { steps }), containers, environmentLabel: config.environmentLabel.value,
    store: storeSettings(config.store),
    // Read when a detection is made: a compiled sensor the kernel refuses gives way to bpftrace at start.
    sensor: {
      get name(): string { return sensor.describe().name; },
      get version(): string | null { return sensor.describe().version; },
    },
    onClosed: (d) => {
      if (!options.quiet) session.say(`\n${formatDetection(d, session.palette, width)}\n`);
    },
  }, io);

  let stopping = false;
  let lostReported = 0;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  // The supervisor restarts a sensor that dies, with growing delays, and reports the gap.
  const supervisor = new SensorSupervisor({
    create: (observer) => new EbpfSensor({ install, procfs: { ...LIVE_PROCFS, facts: (pid) => { steps?.observe(pid); containers.observe(pid); return LIVE_PROCFS.facts(pid); } }, roots: kernelRoots(config.recipes),
      cgroup: (seen) => { containers.observeCgroup(seen); } }, observer),
    onEvents: (events) => {
      session.push(events);
    },
    say: (line) => {
      session.say(line);
    },
    restartDelaysMs: WATCH_RESTART_DELAYS_MS,
  });
  const sensor = supervisor.sensor;
  const onSignal = (): void => {
    stop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const suppressedReported = new Map<string, number>();
  let lastHealth = { atMs: Date.now(), lines: 0 };
  /** Health lines start once the sensor is attached (bpftrace takes seconds, and attaching says nothing of health). */
  let watching = false;
  /** The last health sample stored, and when the store's retention and size cap were last applied. */
  let lastStored: { atMs: number; lines: number } | undefined;
  let lastMaintained = Date.now();
  const storeHealth = (): void => {
    const h = sensor.health();
    const seconds = lastStored === undefined ? 0 : (Date.now() - lastStored.atMs) / 1000;
    session.recordHealth('watch', sensor.describe().label, h, supervisor.gapCount, lastStored === undefined || seconds <= 0 ? undefined : (h.lines - lastStored.lines) / seconds);
    lastStored = { atMs: Date.now(), lines: h.lines };
  };
  const ticker = setInterval(() => {
    if (watching && session.store !== undefined && Date.now() - (lastStored?.atMs ?? 0) >= HEALTH_SAMPLE_MS) storeHealth();
    if (session.store !== undefined && Date.now() - lastMaintained >= MAINTENANCE_INTERVAL_MS) {
      lastMaintained = Date.now();
      session.store.maintain();
    }
    if (watching && options.healthIntervalS > 0 && Date.now() - lastHealth.atMs >= options.healthIntervalS * 1000) {
      const h = sensor.health();
      const seconds = (Date.now() - lastHealth.atMs) / 1000;
      session.say(`tripline: health: ${formatHealth(h, (h.lines - lastHealth.lines) / seconds, supervisor.gapCount, session.detectionCount)}`);
      lastHealth = { atMs: Date.now(), lines: h.lines };
    }
    session.tick(sensor.nowMs());
    const lost = sensor.health().lost;
    if (lost > lostReported) {
      session.say(`tripline: warning: ${sensor.describe().name} lost ${lost - lostReported} event(s) (${lost} in all): its buffers overflowed, some accesses were not seen`);
      lostReported = lost;
    }
    // A recipe's limits holding detections back is said as it happens, not only at stop.
    for (const [limit, count] of session.pipeline.engine.suppressed) {
      if (count <= (suppressedReported.get(limit) ?? 0)) continue;
      session.say(`tripline: ${String(count)} detection(s) not raised so far: limit ${limit} reached`);
      suppressedReported.set(limit, count);
    }
  }, 1_000);
  // Files are read and checked in a worker thread: event processing goes on meanwhile; only the swap runs here.
  const reloader = new ConfigReloader(() => loadConfigOffThread(flags, io.env, io.cwd), (outcome) => {
    if (!stopping) void reloadRecipes(outcome, session, sensor);
  });
  try {
    // bpftrace compiles its program first (seconds, more under load): say why nothing happens yet.
    const slow = setTimeout(() => {
      session.say(`tripline: sensor: attaching ${visible(sensor.describe().name)} (eBPF) ...`);
    }, ATTACH_NOTICE_MS);
    try {
      await supervisor.start();
    } finally {
      clearTimeout(slow);
    }
    if (sensor.fallbackReason !== undefined) session.say(`tripline: sensor: ${sensor.describe().name} ${sensor.describe().version} instead of the compiled sensor, which did not start: ${visible(sensor.fallbackReason)}`);
    else if (install.why !== undefined) session.say(`tripline: sensor: ${sensorName(install)} (${visible(install.why)})`);
    const tier = sensor.describe().tier;
    if (tier !== undefined) session.say(`tripline: sensor tier: ${tier}`);
    watching = true;
    lastHealth = { atMs: Date.now(), lines: sensor.health().lines };
    for (const note of sensor.unobserved(config.recipes)) session.say(`tripline: warning: ${visible(note)}`);
    setReload(() => {
      if (stopping) return;
      // Log rotation: output files are opened afresh at their paths (and failing ones retried now).
      session.reopenOutputs();
      reloader.request();
    });
    session.say(`tripline: watching every process on ${session.pipeline.engine.watchedRoots.join(', ')} (${sensor.describe().label}, attached in ${((sensor.timings().attachMs ?? 0) / 1000).toFixed(2)} s; recipes: ${config.recipes.map((r) => r.id).join(', ')}); SIGHUP reloads the recipes and reopens output files, Ctrl-C or SIGTERM stops`);
    await stopped;
  } finally {
    stopping = true;
    setReload(() => undefined);
    reloader.cancel();
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await supervisor.stop();
    await session.finish(() => { if (watching) storeHealth(); });
  }
  for (const line of session.policyNotes()) session.say(`tripline: ${line}`);
  const h = sensor.health();
  const lostNote = `${h.lost + h.unparsed > 0 ? `, ${String(h.lost + h.unparsed)} event(s) lost` : ''}${supervisor.gaps.length > 0 ? `, ${String(supervisor.gaps.length)} gap(s) with nothing watched` : ''}${h.late > 0 ? `, ${String(h.late)} event(s) applied late` : ''}${sensor.drained ? '' : `, the last events before the stop may be missing (${sensor.describe().name} did not catch up in time)`}`;
  // What outputs could not do (unwritten detections, webhook failures, queue drops): warnings, and
  // the unwritten counts again in the last line, per output. The exit status stays 0 (see docs/outputs.md).
  for (const line of session.outputFailures) session.say(`tripline: warning: ${line}`);
  const unwritten = session.outputLosses().filter((l) => l.detections > 0).map((l) => `, ${String(l.detections)} not written to ${l.name}`).join('');
  session.say(`tripline: stopped; ${session.detectionCount} detection(s)${unwritten}${lostNote}${supervisor.restarts > 0 ? `, ${sensor.describe().name} restarted ${supervisor.restarts} time(s)` : ''}`);
  return EXIT.ok;
}

/** One health line: how fast events come, and what was lost, late or not watched. */
export function formatHealth(h: SensorHealth, linesPerSecond: number, gaps: number, detections: number): string {
  return `${linesPerSecond.toFixed(0)} line(s)/s, ${String(h.lost + h.unparsed)} event(s) lost, ${String(h.late)} late (max ${h.maxLatenessMs.toFixed(0)} ms behind; hold ${h.holdMs.toFixed(0)} ms), `
    + `${String(h.orphans)} process(es) without their fork line, ${String(gaps)} gap(s), ${String(h.pending)} pending, ${String(detections)} detection(s)`;
}

/**
 * SIGHUP: the configuration and every recipe were read again (in a worker thread); they are
 * swapped in only if all of it is valid; otherwise the running set stays and the problems are
 * logged. Detections open at that moment are closed and reported. The environment and outputs
 * are kept from the start.
 */
async function reloadRecipes(outcome: ReloadOutcome, session: DetectionSession, sensor: Sensor): Promise<void> {
  const current = session.pipeline.engine.activeRecipes;
  const keep = `keeping the ${String(current.length)} recipe(s) running (${current.map((r) => r.id).join(', ')})`;
  // Whatever went wrong, the daemon keeps watching with what it has.
  if (outcome.kind === 'failed') {
    session.say(`tripline: reload failed: ${outcome.message}; ${keep}`);
    return;
  }
  if (outcome.kind === 'config-error') {
    // One write: a log reader sees the failure and its reasons together.
    session.say([`tripline: reload failed: ${outcome.message}; ${keep}`, ...outcome.diagnostics.map((d) => `tripline: ${formatDiagnostic(d)}`)].join('\n'));
    return;
  }
  const next = outcome.config;
  if (hasErrors(next.recipeDiagnostics)) {
    session.say([`tripline: reload failed: a recipe file has errors; ${keep}`, ...next.recipeDiagnostics.map((d) => `tripline: ${formatDiagnostic(d)}`)].join('\n'));
    return;
  }
  for (const d of next.recipeDiagnostics) session.say(`tripline: ${formatDiagnostic(d)}`);
  session.replaceRecipes(next.recipes);
  // The compiled sensor filters on the new recipes' roots in the kernel from now on; "reloaded" is
  // said once they are in force.
  try {
    await sensor.watchRoots(kernelRoots(next.recipes));
  } catch (error) {
    session.say(`tripline: warning: ${visible((error as Error).message)}`);
  }
  for (const note of sensor.unobserved(next.recipes)) session.say(`tripline: warning: ${visible(note)}`);
  session.say(`tripline: reloaded: ${String(next.recipes.length)} recipe(s) (${next.recipes.map((r) => r.id).join(', ')}), ${String(next.recipes.reduce((n, r) => n + r.exceptions.length, 0))} exception(s)`);
}
