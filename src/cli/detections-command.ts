// `tripline detections list | show ID | export | stats | prune`: the detection history that
// run and watch record in the store, read (and pruned) from the command line. Every string in
// a stored detection is attacker-controlled (a process named it, or another host sent it) and
// is escaped before it reaches the terminal.

import { closeSync, writeSync } from 'node:fs';
import { loadTriplineConfig, type TriplineConfig } from '../config/tripline-config.ts';
import { parseByteSize, parseDurationMs } from '../config/parse-quantity.ts';
import type { Detection } from '../model/detection.ts';
import { ENVIRONMENT_KINDS, isEnvironmentKind, type EnvironmentKind } from '../model/environment.ts';
import { IMPORTANCE_LEVELS, isImportance, type Importance } from '../model/importance.ts';
import { describeContainer } from '../model/detection.ts';
import { buildJunit } from '../outputs/junit-output.ts';
import { openOutputFile } from '../outputs/output-file.ts';
import { paletteFor } from '../outputs/palette.ts';
import { buildSarif } from '../outputs/sarif-output.ts';
import { visible } from '../outputs/terminal-text.ts';
import { formatDetection } from '../outputs/text-report.ts';
import { DETECTION_STATES, DetectionStoreError, type DetectionFilter, type DetectionState, type DetectionStats, type StoredRevision } from '../store/detection-store.ts';
import { openDetectionStore, type SqliteDetectionStore } from '../store/sqlite-detection-store.ts';
import { defaultStorePath } from '../store/store-location.ts';
import { parseCommandLine, type OptionDef, type ParsedCommandLine } from './command-line.ts';
import type { CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { DETECTIONS_HELP } from './help-text.ts';
import { triplineVersion } from './tripline-version.ts';
import { UsageError } from './usage-error.ts';
import { visibleJson } from '../model/visible.ts';

const COMMON = { store: { type: 'string' }, config: { type: 'string' } } as const satisfies Record<string, OptionDef>;
const FILTERS = {
  since: { type: 'string' }, until: { type: 'string' }, recipe: { type: 'string', multiple: true }, importance: { type: 'string', multiple: true },
  host: { type: 'string', multiple: true }, environment: { type: 'string', multiple: true }, container: { type: 'string' }, state: { type: 'string', multiple: true },
} as const satisfies Record<string, OptionDef>;

const SUBCOMMANDS = {
  list: { ...COMMON, ...FILTERS, limit: { type: 'string' }, json: { type: 'boolean' } },
  show: { ...COMMON, revisions: { type: 'boolean' }, json: { type: 'boolean' } },
  export: { ...COMMON, ...FILTERS, format: { type: 'string' }, output: { type: 'string' } },
  stats: { ...COMMON, ...FILTERS, json: { type: 'boolean' } },
  prune: { ...COMMON, 'older-than': { type: 'string' }, 'max-size': { type: 'string' } },
} as const satisfies Record<string, Record<string, OptionDef>>;
type Subcommand = keyof typeof SUBCOMMANDS;

/** The subcommands, for completion. */
export const DETECTIONS_SUBCOMMANDS: readonly string[] = Object.keys(SUBCOMMANDS);

const EXPORT_FORMATS = ['jsonl', 'sarif', 'junit'] as const;
/** Detections read per page while exporting. */
const PAGE = 1_000;

export async function detectionsCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) {
    io.stderr.write(`${DETECTIONS_HELP}\n`);
    return EXIT.usage;
  }
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(`${DETECTIONS_HELP}\n`);
    return EXIT.ok;
  }
  if (!(sub in SUBCOMMANDS)) throw new UsageError(`detections: unknown subcommand "${sub}" (${DETECTIONS_SUBCOMMANDS.join(', ')}); see tripline detections --help`);
  const name = sub as Subcommand;
  const o = parseCommandLine({ command: `detections ${name}`, options: SUBCOMMANDS[name], operands: name === 'show' ? 'any' : 'none' }, rest);
  if (o.help) {
    io.stdout.write(`${DETECTIONS_HELP}\n`);
    return EXIT.ok;
  }
  // Checked before the store is opened: a bad command line says so whatever the store.
  const run = prepare(name, o);
  const config = loadTriplineConfig({ config: o.values.get('config'), store: o.values.get('store') }, io.env, io.cwd);
  const store = openStore(config, name, io.env);
  try {
    return await run(store, config, io);
  } catch (error) {
    if (error instanceof DetectionStoreError) throw new UsageError(error.message, { cause: error });
    throw error;
  } finally {
    store.close();
  }
}

type Run = (store: SqliteDetectionStore, config: TriplineConfig, io: CommandIo) => number | Promise<number>;

function prepare(name: Subcommand, o: ParsedCommandLine): Run {
  switch (name) {
    case 'list': {
      const filter = filterOf(o, name);
      const limitText = o.values.get('limit') ?? '100';
      if (!/^[1-9][0-9]{0,4}$/.test(limitText) || Number(limitText) > 10_000) throw new UsageError(`detections list: --limit takes a whole number from 1 to 10000, not "${visible(limitText)}"`);
      return (store, _config, io) => list(store, filter, Number(limitText), o.flags.has('json'), io);
    }
    case 'show': {
      const [id, ...extra] = o.operands;
      if (id === undefined || extra.length > 0) throw new UsageError('detections show: give one detection id (tripline detections list shows them)');
      return (store, _config, io) => show(store, id, o.flags.has('revisions'), o.flags.has('json'), io);
    }
    case 'export': {
      const filter = filterOf(o, name);
      const format = o.values.get('format');
      if (format === undefined || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
        throw new UsageError(`detections export: --format ${format === undefined ? 'is needed' : `"${visible(format)}" is not a format`}: jsonl, sarif or junit`);
      }
      return (store, config, io) => exportDetections(store, filter, format as (typeof EXPORT_FORMATS)[number], o.values.get('output'), config, io);
    }
    case 'stats': {
      const filter = filterOf(o, name);
      return (store, _config, io) => stats(store, filter, o.flags.has('json'), io);
    }
    case 'prune': {
      const olderText = o.values.get('older-than');
      const sizeText = o.values.get('max-size');
      const olderMs = olderText === undefined ? undefined : parseDurationMs(olderText);
      if (olderText !== undefined && olderMs === undefined) throw new UsageError(`detections prune: --older-than takes an age (30d, 12h, 2w), not "${visible(olderText)}"`);
      const maxBytes = sizeText === undefined ? undefined : parseByteSize(sizeText);
      if (sizeText !== undefined && maxBytes === undefined) throw new UsageError(`detections prune: --max-size takes a size (512MiB, 2GB, 1048576), not "${visible(sizeText)}"`);
      return (store, config, io) => prune(store, olderMs ?? config.store.retentionMs.value, maxBytes ?? config.store.maxBytes.value, io);
    }
  }
}

/** The store named by --store, TRIPLINE_STORE, the configuration, or the default; never created here. */
function openStore(config: TriplineConfig, sub: Subcommand, env: NodeJS.ProcessEnv): SqliteDetectionStore {
  const chosen = config.store.path;
  if (chosen.value === null) throw new UsageError(`detections ${sub}: no detection store (${chosen.source} turns it off); give --store PATH`);
  const path = chosen.value ?? defaultStorePath(env);
  try {
    return openDetectionStore({ path, create: false });
  } catch (error) {
    if (error instanceof DetectionStoreError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** "24h" (that long ago) or an ISO 8601 time. */
function timeOf(text: string, option: string, command: string): Date {
  const ms = parseDurationMs(text);
  if (ms !== undefined) return new Date(Date.now() - ms);
  // A time, with a date at least: Date.parse alone takes too much ("1", "May").
  const t = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(t)) throw new UsageError(`${command}: ${option} takes an age (24h, 7d) or an ISO 8601 time (2026-11-01T10:00:00Z), not "${visible(text)}"`);
  return new Date(t);
}

/** Values of a repeatable option, each also split at commas. */
function values(o: ParsedCommandLine, name: string): string[] | undefined {
  const given = o.lists.get(name);
  if (given === undefined) return undefined;
  return given.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function checked<T extends string>(list: string[] | undefined, valid: (v: string) => v is T, option: string, command: string, allowed: readonly string[]): T[] | undefined {
  if (list === undefined) return undefined;
  for (const v of list) if (!valid(v)) throw new UsageError(`${command}: --${option} "${visible(v)}" is not one of ${allowed.join(', ')}`);
  return list as T[];
}

function isState(v: string): v is DetectionState {
  return (DETECTION_STATES as readonly string[]).includes(v);
}

function filterOf(o: ParsedCommandLine, sub: Subcommand): DetectionFilter {
  const command = `detections ${sub}`;
  const since = o.values.get('since');
  const until = o.values.get('until');
  const recipe = values(o, 'recipe');
  const host = values(o, 'host');
  const importance = checked<Importance>(values(o, 'importance'), isImportance, 'importance', command, IMPORTANCE_LEVELS);
  const environment = checked<EnvironmentKind>(values(o, 'environment'), isEnvironmentKind, 'environment', command, ENVIRONMENT_KINDS);
  const state = checked<DetectionState>(values(o, 'state'), isState, 'state', command, DETECTION_STATES);
  const container = o.values.get('container');
  return {
    ...(since === undefined ? {} : { since: timeOf(since, '--since', command) }),
    ...(until === undefined ? {} : { until: timeOf(until, '--until', command) }),
    ...(recipe === undefined ? {} : { recipe }),
    ...(importance === undefined ? {} : { importance }),
    ...(host === undefined ? {} : { host }),
    ...(environment === undefined ? {} : { environment }),
    ...(state === undefined ? {} : { state }),
    ...(container === undefined ? {} : { container }),
  };
}

/** Every string in it passed through visible() (idempotent), so that no formatter can print a raw one. */
function escapedDeep<T>(value: T): T {
  if (typeof value === 'string') return visible(value) as T;
  if (Array.isArray(value)) return value.map(escapedDeep) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [visible(k), escapedDeep(v)])) as T;
  }
  return value;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** One line of `list`: time, importance, recipe, host, environment, state, the process, the container, the id. */
function listLine(r: StoredRevision): string {
  const d = escapedDeep(r.detection);
  const p = d.subject.process;
  const command = clip(p.argv.length > 0 ? p.argv.join(' ') : p.comm, 48);
  const container = describeContainer(p.container);
  const time = d.time.replace(/\.\d+Z$/, 'Z');
  return [
    time.padEnd(20), d.recipe.importance.padEnd(8), clip(d.recipe.id, 28).padEnd(28), clip(d.host.hostname, 20).padEnd(20),
    d.environment.kind.padEnd(11), `${r.state} r${String(r.revision)}`.padEnd(12), `pid ${String(p.pid)} ${command}${container === undefined ? '' : ` (${clip(container, 60)})`}`,
    ` ${visible(r.id)}`,
  ].join(' ').trimEnd();
}

function storedJson(r: StoredRevision): unknown {
  return { seq: r.seq, id: r.id, revision: r.revision, state: r.state, recordedAt: r.recordedAt, origin: r.origin ?? null, detection: r.detection };
}

function list(store: SqliteDetectionStore, filter: DetectionFilter, limit: number, json: boolean, io: CommandIo): number {
  const page = store.list({ ...filter, limit });
  if (json) {
    io.stdout.write(`${visibleJson(page.items.map(storedJson), 2)}\n`);
  } else if (page.items.length === 0) {
    io.stderr.write(`tripline: no detection in ${visible(store.path)} matches\n`);
  } else {
    io.stdout.write(`${'TIME'.padEnd(20)} ${'LEVEL'.padEnd(8)} ${'RECIPE'.padEnd(28)} ${'HOST'.padEnd(20)} ${'ENVIRONMENT'.padEnd(11)} ${'STATE'.padEnd(12)} PROCESS  ID\n`);
    for (const r of page.items) io.stdout.write(`${listLine(r)}\n`);
  }
  if (page.nextCursor !== undefined) io.stderr.write(`tripline: more detections match than the ${String(limit)} shown (--limit N, or narrow with --since and the other filters)\n`);
  return EXIT.ok;
}

function show(store: SqliteDetectionStore, id: string, revisions: boolean, json: boolean, io: CommandIo): number {
  const all = revisions ? store.revisions(id) : [];
  const current = store.get(id);
  if (current === undefined) throw new UsageError(`detections show: no detection "${visible(id)}" in ${visible(store.path)} (tripline detections list shows the ids)`);
  if (json) {
    io.stdout.write(`${visibleJson(revisions ? all.map(storedJson) : storedJson(current), 2)}\n`);
    return EXIT.ok;
  }
  const palette = paletteFor(io.stdout as { isTTY?: boolean }, io.env);
  const width = (io.stdout as { columns?: number }).columns ?? 0;
  for (const r of revisions ? all : [current]) {
    io.stdout.write(`revision ${String(r.revision)} (${r.state}), recorded ${r.recordedAt}${r.origin === undefined ? '' : ` from ${visible(r.origin)}`}\n`);
    let text: string;
    try {
      text = formatDetection(escapedDeep(r.detection), palette, width > 0 ? Math.min(width, 120) : 100);
    } catch (error) {
      // A detection received from another host may lack what a report needs.
      throw new UsageError(`detections show: revision ${String(r.revision)} of "${visible(id)}" cannot be shown (${(error as Error).message}); --json prints it as stored`, { cause: error });
    }
    io.stdout.write(`${text}\n\n`);
  }
  return EXIT.ok;
}

/** Every detection matching, oldest first, read page by page. */
function* matching(store: SqliteDetectionStore, filter: DetectionFilter): Generator<Detection[]> {
  // The pages come newest first; a cursor walks back, and the collected pages are given oldest first.
  const pages: Detection[][] = [];
  let cursor: string | undefined;
  do {
    const page = store.list({ ...filter, limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
    pages.push(page.items.map((r) => r.detection).reverse());
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  for (let i = pages.length - 1; i >= 0; i--) yield pages[i] ?? [];
}

function exportDetections(store: SqliteDetectionStore, filter: DetectionFilter, format: (typeof EXPORT_FORMATS)[number], output: string | undefined,
  config: TriplineConfig, io: CommandIo): number {
  const fd = output === undefined ? undefined : openOutputFile(output);
  const write = (text: string): void => {
    if (fd === undefined) io.stdout.write(text);
    else writeSync(fd, text);
  };
  let count = 0;
  try {
    if (format === 'jsonl') {
      for (const page of matching(store, filter)) {
        for (const d of page) write(`${visibleJson(d)}\n`);
        count += page.length;
      }
    } else {
      const detections = [...matching(store, filter)].flat();
      count = detections.length;
      write(format === 'sarif'
        ? `${visibleJson(buildSarif(detections, { recipes: config.loadedRecipes, toolVersion: triplineVersion(), workspace: io.cwd }), 2)}\n`
        : buildJunit(detections, config.loadedRecipes, 'tripline'));
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (output !== undefined) io.stderr.write(`tripline: ${String(count)} detection(s) written to ${visible(output)} (${format})\n`);
  return EXIT.ok;
}

function counts(title: string, c: Readonly<Record<string, number>>): string {
  const entries = Object.entries(c);
  return `${title.padEnd(13)} ${entries.length === 0 ? '-' : entries.map(([k, n]) => `${visible(k)} ${String(n)}`).join(', ')}`;
}

function bucketName(ms: number): string {
  if (ms % 86_400_000 === 0) return `${String(ms / 86_400_000)} day(s)`;
  if (ms % 3_600_000 === 0) return `${String(ms / 3_600_000)} hour(s)`;
  if (ms % 60_000 === 0) return `${String(ms / 60_000)} minute(s)`;
  return `${String(ms)} ms`;
}

function formatStats(s: DetectionStats, path: string): string {
  if (s.total === 0) return `no detection in ${visible(path)} matches`;
  const out = [
    `${String(s.total)} detection(s), made from ${s.first ?? '?'} to ${s.last ?? '?'}`,
    counts('importance', s.byImportance), counts('recipe', s.byRecipe), counts('host', s.byHost),
    counts('environment', s.byEnvironment), counts('state', s.byState), `per ${bucketName(s.bucketMs)}:`,
  ];
  const most = Math.max(...s.buckets.map((b) => b.count));
  for (const b of s.buckets) out.push(`  ${b.start.replace(/:00\.000Z$/, 'Z')}  ${'#'.repeat(Math.max(1, Math.round((b.count / most) * 40)))} ${String(b.count)}`);
  return out.join('\n');
}

function stats(store: SqliteDetectionStore, filter: DetectionFilter, json: boolean, io: CommandIo): number {
  const s = store.stats(filter);
  io.stdout.write(json ? `${visibleJson(s, 2)}\n` : `${formatStats(s, store.path)}\n`);
  return EXIT.ok;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function prune(store: SqliteDetectionStore, olderMs: number | undefined, maxBytes: number | undefined, io: CommandIo): number {
  if (olderMs === undefined && maxBytes === undefined) {
    throw new UsageError('detections prune: say what to remove: --older-than AGE, --max-size SIZE, or store.retention / store.max_size in the configuration');
  }
  const r = store.prune({ ...(olderMs === undefined ? {} : { olderThan: new Date(Date.now() - olderMs) }), ...(maxBytes === undefined ? {} : { maxBytes }) });
  io.stdout.write(`removed ${String(r.detections)} detection(s) (${String(r.revisions)} revision(s)) and ${String(r.healthSamples)} health sample(s) from ${visible(store.path)}: ${megabytes(r.bytesBefore)} -> ${megabytes(r.bytesAfter)}\n`);
  if (maxBytes !== undefined && r.bytesAfter > maxBytes) {
    io.stderr.write(`tripline: warning: the file is still larger than ${megabytes(maxBytes)}: another process is reading it (the write-ahead log is emptied once no reader holds it), or what is left is only its empty schema\n`);
  }
  return EXIT.ok;
}
