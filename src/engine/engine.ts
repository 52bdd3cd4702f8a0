// The detection engine: pure and synchronous. Each normalized event goes in, detections
// opened, updated (throttled revisions) or closed come out. No I/O, no clock: time is the events' own.

import type { Detection } from '../model/detection.ts';
import type { FileAccess, NormalizedEvent } from '../model/file-access.ts';
import type { ProcessInfo } from '../model/process-info.ts';
import type { ContainerIdentity, ContainerView } from '../model/container.ts';
import { scopeWindowMs, type LimitKind, type Recipe, type RecipeException, type SubjectScope } from '../model/recipe.ts';
import { parentDirectory } from '../model/canonical-path.ts';
import { classifyAccess, type Classification } from './access-classifier.ts';
import type { DetectionContext } from '../model/detection-context.ts';
import { buildDetection } from './detection-builder.ts';
import { EvidenceAccumulator } from './evidence-accumulator.ts';
import { compileExceptions, type ExceptionMatcher } from './exception-matcher.ts';
import { contributionKey, SubjectWindow, type WindowedAccess } from './subject-window.ts';
import { SensorLossLedger } from './sensor-loss-ledger.ts';
import type { SensorLossEvent } from '../model/sensor-event.ts';

/** What the engine needs to know about processes (the normalizer's process table provides it). */
export interface ProcessView {
  get(pid: number): ProcessInfo | undefined;
  /** The process that forked the process holding `pid` now. */
  parent(pid: number): ProcessInfo | undefined;
  ancestry(pid: number): ProcessInfo[];
  isLive(pid: number): boolean;
  /**
   * The same, by process rather than by pid: a dead ancestor's pid may belong to another
   * process by now (reused at once with clone3(set_tid)), so walks up a chain go by process.
   */
  parentOf(p: ProcessInfo): ProcessInfo | undefined;
  ancestryOf(p: ProcessInfo): ProcessInfo[];
  /** Whether `p` itself still runs (not merely its pid). */
  isRunning(p: ProcessInfo): boolean;
}

export interface EngineOutput {
  /**
   * `opened` when a subject crosses the threshold; `updated` when an open detection's evidence
   * grew (at most one per `UPDATE_INTERVAL_MS` of event time per detection); `closed` with the
   * final evidence when it ends. One detection's revisions come out in order, `closed` last.
   */
  readonly type: 'opened' | 'updated' | 'closed';
  readonly detection: Detection;
}

/**
 * Least event time between two revisions of one detection: a growing detection is revised
 * at most once a second, and a change still pending when a second has passed goes out with
 * the next event or `tick()` (or with the close, which always carries the final evidence).
 */
export const UPDATE_INTERVAL_MS = 1_000;

/** What the engine decided and why, step by step (for `tripline recipes explain`). */
export type EngineTrace =
  | { readonly kind: 'access'; readonly recipe: Recipe; readonly access: FileAccess; readonly actor: number; readonly classification: Classification; readonly exception: RecipeException | undefined }
  | { readonly kind: 'counted'; readonly recipe: Recipe; readonly scope: SubjectScope; readonly actor: number; readonly distinct: number; readonly timeMs: number }
  | { readonly kind: 'withdrawn'; readonly recipe: Recipe; readonly actor: number; readonly path: string }
  | { readonly kind: 'merged'; readonly recipe: Recipe; readonly from: number; readonly scope: SubjectScope; readonly actor: number; readonly detectionId: string }
  | { readonly kind: 'fired'; readonly recipe: Recipe; readonly scope: SubjectScope; readonly actor: number; readonly detectionId: string; readonly distinct: number; readonly timeMs: number }
  | { readonly kind: 'deferred'; readonly recipe: Recipe; readonly scope: SubjectScope; readonly actor: number; readonly children: readonly number[]; readonly distinct: number; readonly timeMs: number }
  | { readonly kind: 'suppressed'; readonly recipe: Recipe; readonly scope: SubjectScope; readonly actor: number; readonly limit: LimitKind; readonly distinct: number; readonly timeMs: number };

export interface EngineOptions {
  /** Prefix for detection ids, unique per run (the caller's random session id). */
  readonly sessionId: string;
  /** Distinct evidence paths kept per detection. */
  readonly fileCapacity?: number;
  /** Accesses kept per subject while it is below the threshold. */
  readonly windowEvidenceCapacity?: number;
  /** Subjects tracked at once before the least recently active are dropped. */
  readonly subjectCapacity?: number;
  /**
   * Also close detections of subjects still running once a window passed without evidence
   * (a daemon's burst is reported while the daemon lives on; a later burst is a new detection).
   * For `watch`; `run` keeps one detection per subject until the end.
   */
  readonly closeIdleLive?: boolean;
  /** Told every decision; for explaining a run, off otherwise. */
  readonly trace?: (step: EngineTrace) => void;
  /** The container of each process (watch), for the container and Kubernetes conditions of exceptions. */
  readonly containers?: ContainerView;
}

interface Subject {
  readonly recipe: Recipe;
  readonly scope: SubjectScope;
  readonly actor: number;
  /** The actor itself (its pid may be reused by another process while the subject lives on). */
  readonly process: ProcessInfo;
  readonly key: string;
}

interface OpenDetection {
  readonly subject: Subject;
  readonly id: string;
  readonly firedMs: number;
  readonly evidence: EvidenceAccumulator;
  /** Time of the latest evidence merged into it. */
  lastMs: number;
  /** Revisions emitted so far (1 once opened). */
  revision: number;
  /** Event time of the last revision emitted. */
  emittedMs: number;
  /** Evidence grew since the last revision emitted (a new file, directory, process or the configuration-change flag). */
  changed: boolean;
  /** The subject as it was when it fired: the pid may be reused by another process before the end. */
  readonly subjectAtFire: ProcessInfo;
  readonly ancestryAtFire: readonly ProcessInfo[];
}

const MAX_CHAIN = 64;

/**
 * A tree waiting for its running children. What it had counted when it waited is kept (later
 * accesses must not slide it out of the window: an attacker's one late read would then hide
 * the rest); children that fire on their own are taken out of it.
 */
interface Deferred {
  readonly subject: Subject;
  readonly above: readonly Subject[];
  readonly children: readonly ProcessInfo[];
  readonly atMs: number;
  readonly untilMs: number;
  readonly counted: Map<string, Set<number>>;
  evidence: WindowedAccess[];
}

interface CachedExceptions {
  readonly startMs: number | undefined;
  readonly exe: string | undefined;
  readonly verifiedExe: string | null | undefined;
  readonly uid: number | undefined;
  readonly argv: readonly string[];
  /** The parent as it was: a parent that exec'd since changes what parent_exe means. */
  readonly parent: ProcessInfo | undefined;
  readonly parentExe: string | null | undefined;
  /** The container as known then: the runtime's answer, once it comes, is a new object. */
  readonly container: ContainerIdentity | null | undefined;
  readonly byRecipe: Map<Recipe, RecipeException | null>;
}
/** How recipe files spell each limit. */
const LIMIT_KEYS: Readonly<Record<LimitKind, string>> = { perProcess: 'per_process', perExe: 'per_exe', perAncestry: 'per_ancestry', perHost: 'per_host' };
/** Exception decisions cached per process identity before the cache is reset. */
const EXCEPTION_CACHE_SIZE = 4096;

/** The canonical roots the recipes watch, each once. */
export function watchedRoots(recipes: readonly Recipe[]): string[] {
  return [...new Set(recipes.flatMap((r) => r.match.roots))];
}
/** How often (in event time) stale windows are dropped and idle detections of ended subjects closed. */
const SWEEP_INTERVAL_MS = 1_000;
/** Directories kept per detection: a host with a thousand interfaces has about 4000 under /proc/sys/net. */
const MAX_DIRECTORIES = 65_536;

export class Engine {
  private readonly windows = new Map<string, SubjectWindow>();
  private readonly open = new Map<string, OpenDetection>();
  /**
   * Trees that reached the threshold through several child subtrees still running: each of
   * those may yet reach it on its own (sibling scripts under one xargs are separate actors).
   * They fire once those children have ended, or after their window, with what is left.
   */
  private readonly deferred = new Map<string, Deferred>();
  private readonly closed = new Set<string>();
  private sequence = 0;
  /** Open detections (by subject key) with evidence not yet sent out in a revision. */
  private readonly changed = new Set<string>();
  /** Event time at which the earliest of `changed` may be revised (Infinity: none pending). */
  private nextUpdateMs = Infinity;
  private nowMs = -Infinity;
  private lastSweepMs = -Infinity;
  private readonly fileCapacity: number;
  private readonly windowEvidenceCapacity: number;
  private readonly subjectCapacity: number;
  private readonly exceptionMatchers = new Map<Recipe, ExceptionMatcher | undefined>();
  private readonly exceptionCache = new Map<number, CachedExceptions>();
  private readonly limitCounts = new Map<string, number>();
  /** Accesses an exception kept from counting, by exception (recipe id and name). */
  readonly exceptionHits = new Map<string, number>();
  /** Detections a recipe's limits kept from being raised, by "recipe-id per_kind". */
  readonly suppressed = new Map<string, number>();
  /** What the sensor missed, so each detection can say whether its subject lived through it. */
  readonly loss = new SensorLossLedger();

  constructor(
    private recipes: readonly Recipe[],
    private readonly processes: ProcessView,
    private readonly context: DetectionContext,
    private readonly options: EngineOptions,
  ) {
    this.fileCapacity = options.fileCapacity ?? 256;
    this.windowEvidenceCapacity = options.windowEvidenceCapacity ?? 2048;
    this.subjectCapacity = options.subjectCapacity ?? 65_536;
    for (const r of recipes) this.exceptionMatchers.set(r, compileExceptions(r.exceptions));
  }

  /**
   * Runs another set of recipes from now on (a reload): every open detection is closed and
   * reported, windows and limits start afresh; what is known about processes is kept.
   */
  replaceRecipes(recipes: readonly Recipe[]): EngineOutput[] {
    const out = this.flush();
    this.recipes = recipes;
    this.windows.clear();
    this.closed.clear();
    this.limitCounts.clear();
    this.exceptionCache.clear();
    this.exceptionMatchers.clear();
    for (const r of recipes) this.exceptionMatchers.set(r, compileExceptions(r.exceptions));
    return out;
  }

  /** The recipes this engine runs. */
  get activeRecipes(): readonly Recipe[] {
    return this.recipes;
  }

  /** Every canonical root some recipe watches: accesses elsewhere need not reach the engine. */
  get watchedRoots(): string[] {
    return watchedRoots(this.recipes);
  }

  observe(event: NormalizedEvent): EngineOutput[] {
    const out: EngineOutput[] = [];
    if (event.kind === 'file-access') {
      for (const recipe of this.recipes) {
        const c = classifyAccess(event, recipe);
        if (c !== undefined) this.observeAccess(recipe, event, c, out);
      }
    }
    this.advance(event.timeMs, out);
    return out;
  }

  /**
   * Lets time pass without an event (a quiet host): detections whose subject has ended and
   * that got no evidence for a window's length are closed, stale windows dropped.
   */
  tick(nowMs: number): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.advance(nowMs, out);
    return out;
  }

  /**
   * The children of `actor` whose subtrees contributed to its window, when the window holds
   * more than one contributor (itself or a child subtree) and one of those children still runs.
   * Empty: nothing to wait for.
   */
  private liveChildSubtrees(actor: ProcessInfo, window: SubjectWindow): ProcessInfo[] {
    const contributors = new Set<ProcessInfo>();
    for (const { actor: a } of window.windowedEvidence()) contributors.add(this.childOnPath(this.processOf(a), actor) ?? actor);
    if (contributors.size < 2) return [];
    const live = [...contributors].filter((c) => c !== actor && this.processes.isRunning(c));
    return live;
  }

  /** The child of `ancestor` on the way up from `p` (undefined: `p` is the ancestor itself, or not below it). */
  private childOnPath(p: ProcessInfo, ancestor: ProcessInfo): ProcessInfo | undefined {
    let current: ProcessInfo | undefined = p;
    for (let depth = 0; current !== undefined && depth < MAX_CHAIN; depth++) {
      const parent = this.processes.parentOf(current);
      if (parent !== undefined && sameProcess(parent, ancestor)) return current;
      current = parent;
    }
    return undefined;
  }

  /** The process holding `pid` now, or a blank one when the table does not know it. */
  private processOf(pid: number): ProcessInfo {
    return this.processes.get(pid) ?? unknownProcess(pid);
  }

  /** A subtree fired (or was held back by a limit) on its own: it no longer counts in a waiting ancestor. */
  private purgeDeferred(key: string, fromActor: (actor: number) => boolean): void {
    const d = this.deferred.get(key);
    if (d === undefined) return;
    for (const actors of d.counted.values()) for (const a of [...actors]) if (fromActor(a)) actors.delete(a);
    d.evidence = d.evidence.filter((e) => !fromActor(e.actor));
  }

  /** Deferred trees whose children have all ended (or whose window passed) fire now if still at the threshold. */
  private settleDeferred(out: EngineOutput[], all = false): void {
    for (const [key, d] of this.deferred) {
      if (!all && this.nowMs < d.untilMs && d.children.some((c) => this.processes.isRunning(c))) continue;
      this.deferred.delete(key);
      const window = this.windows.get(key);
      if (window === undefined || this.open.has(key) || this.closed.has(key)) continue;
      // Siblings that started since may still be on their way to firing on their own.
      const children = all || this.nowMs >= d.untilMs ? [] : this.liveChildSubtrees(d.subject.process, window);
      if (children.length > 0) {
        this.deferred.set(key, { ...d, children });
        continue;
      }
      // What it counted when it waited, less the children that fired on their own, or what it counts now if more.
      const then = [...d.counted.values()].filter((actors) => actors.size > 0).length;
      const threshold = d.subject.recipe.aggregate.threshold;
      if (then >= threshold || window.distinctDirectories(window.lastMs) >= threshold) this.fire(d.subject, window, Math.max(d.atMs, window.lastMs), d.above, out, d.evidence);
    }
  }

  /** Evidence of an open detection grew: revised at once if the last revision is old enough, else later. */
  private noteChange(key: string, od: OpenDetection): void {
    od.changed = true;
    this.changed.add(key);
    this.nextUpdateMs = Math.min(this.nextUpdateMs, od.emittedMs + UPDATE_INTERVAL_MS);
  }

  /**
   * Revisions of open detections whose evidence grew and whose last revision is at least
   * `UPDATE_INTERVAL_MS` older than `nowMs`. Unlike `tick()`, lets no other time pass (no
   * window is dropped, no detection closed): `run` calls it from a timer while the command is
   * quiet, since strace's events may lag the clock and only they may move the engine's time.
   */
  dueUpdates(nowMs: number): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.emitDue(nowMs, out);
    return out;
  }

  private emitDue(nowMs: number, out: EngineOutput[]): void {
    if (nowMs < this.nextUpdateMs) return;
    let next = Infinity;
    for (const key of this.changed) {
      const od = this.open.get(key);
      if (od === undefined || !od.changed) {
        this.changed.delete(key);
        continue;
      }
      const dueMs = od.emittedMs + UPDATE_INTERVAL_MS;
      if (nowMs < dueMs) {
        next = Math.min(next, dueMs);
        continue;
      }
      this.changed.delete(key);
      od.changed = false;
      od.revision++;
      od.emittedMs = nowMs;
      out.push({ type: 'updated', detection: this.build(od, 'updated') });
    }
    this.nextUpdateMs = next;
  }

  private advance(timeMs: number, out: EngineOutput[]): void {
    if (timeMs > this.nowMs) this.nowMs = timeMs;
    this.emitDue(this.nowMs, out);
    if (this.deferred.size > 0) this.settleDeferred(out);
    if (this.nowMs - this.lastSweepMs < SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = this.nowMs;
    for (const [key, window] of this.windows) {
      if (window.lastMs < this.nowMs - window.windowMs) this.windows.delete(key);
    }
    for (const [key, od] of this.open) {
      const s = od.subject;
      const windowMs = scopeWindowMs(s.recipe, s.scope) ?? 0;
      if (od.lastMs >= this.nowMs - windowMs) continue;
      const live = this.processes.isRunning(s.process);
      if (!live) this.close(key, out);
      else if (this.options.closeIdleLive === true) this.close(key, out, false);
    }
  }

  /** Closes every open detection (end of the run or of the stream). */
  flush(): EngineOutput[] {
    const out: EngineOutput[] = [];
    this.settleDeferred(out, true);
    for (const key of [...this.open.keys()]) this.close(key, out);
    return out;
  }

  /** The actor a process's accesses belong to: itself once it exec'd, else the parent it forked from. */
  private actorOf(p: ProcessInfo): ProcessInfo {
    let actor = p;
    for (let hops = 0; !actor.execed && hops < MAX_CHAIN; hops++) {
      const parent = this.processes.parentOf(actor);
      if (parent === undefined) break;
      actor = parent;
    }
    return actor;
  }

  /**
   * process(actor), tree(actor), tree(parent actor), ... up to the root. Ancestors that have
   * exited stay in the chain: a subshell left running in the background by a script that
   * exited is still that script's doing.
   */
  private chain(recipe: Recipe, actor: ProcessInfo): Subject[] {
    const subjects: Subject[] = [];
    if (scopeWindowMs(recipe, 'process') !== undefined) subjects.push(this.subject(recipe, 'process', actor));
    if (scopeWindowMs(recipe, 'process-tree') === undefined) return subjects;
    let current: ProcessInfo | undefined = actor;
    // pid 1 (init, or a container's entry point) is everyone's ancestor: a tree there would
    // add up unrelated daemons, and an open detection there would swallow all later evidence.
    for (let depth = 0; current !== undefined && current.pid > 1 && depth < MAX_CHAIN; depth++) {
      subjects.push(this.subject(recipe, 'process-tree', current));
      const parent = this.processes.parentOf(current);
      current = parent === undefined ? undefined : this.actorOf(parent);
    }
    return subjects;
  }

  /**
   * The exception covering the accessing process, if any. Cached per pid and checked against
   * the identity it was computed for (start time, exe, verified exe, uid, argv, and the parent
   * and its exe), so an exec, a recycled pid or a parent that exec'd is looked at afresh.
   */
  private exceptionFor(recipe: Recipe, pid: number): RecipeException | undefined {
    const matcher = this.exceptionMatchers.get(recipe);
    if (matcher === undefined) return undefined;
    const p = this.processes.get(pid);
    if (p === undefined) return undefined;
    let entry = this.exceptionCache.get(pid);
    const parent = this.processes.parent(pid);
    const parentExe = parent?.verifiedExe ?? parent?.exe;
    const containers = this.options.containers;
    // The chain is walked per access only when containers are tracked (a process not read in time takes its parent's).
    let ancestry = containers === undefined ? undefined : this.processes.ancestry(pid);
    const container = ancestry === undefined ? undefined : containers?.containerOf(p, ancestry);
    if (
      entry === undefined || entry.startMs !== p.startMs || entry.exe !== p.exe || entry.verifiedExe !== p.verifiedExe || entry.uid !== p.uid ||
      entry.argv !== p.argv || entry.parent !== parent || entry.parentExe !== parentExe || entry.container !== container
    ) {
      if (this.exceptionCache.size >= EXCEPTION_CACHE_SIZE) this.exceptionCache.clear();
      entry = { startMs: p.startMs, exe: p.exe, verifiedExe: p.verifiedExe, uid: p.uid, argv: p.argv, parent, parentExe, container, byRecipe: new Map() };
      this.exceptionCache.set(pid, entry);
    }
    const cached = entry.byRecipe.get(recipe);
    if (cached !== undefined) return cached ?? undefined;
    // The process's own container when watch read it; else the one Tripline runs in (run).
    const found = matcher({
      process: p, ancestry: ancestry ??= this.processes.ancestry(pid), environment: this.context.environment.kind,
      containerId: containers === undefined || container === undefined ? this.context.host.container?.id : container?.id,
      container,
    });
    entry.byRecipe.set(recipe, found ?? null);
    return found;
  }

  private observeAccess(recipe: Recipe, access: FileAccess, c: Classification, out: EngineOutput[]): void {
    const actorProcess = this.actorOf(this.processOf(access.pid));
    const actor = actorProcess.pid;
    const exception = this.exceptionFor(recipe, access.pid);
    this.options.trace?.({ kind: 'access', recipe, access, actor, classification: c, exception });
    if (exception !== undefined) {
      const name = `${recipe.id}: ${exception.name}`;
      this.exceptionHits.set(name, (this.exceptionHits.get(name) ?? 0) + 1);
      return;
    }
    const chain = this.chain(recipe, actorProcess);
    // Evidence about a subject that already fired is merged into its detection, lowest first.
    const existing = chain.find((s) => this.open.has(s.key));
    const od = existing === undefined ? undefined : this.open.get(existing.key);
    if (od !== undefined) {
      if (!c.evidence) return;
      if (od.evidence.add(access, c) && existing !== undefined) this.noteChange(existing.key, od);
      od.lastMs = Math.max(od.lastMs, access.timeMs);
      this.options.trace?.({ kind: 'merged', recipe, from: actor, scope: od.subject.scope, actor: od.subject.actor, detectionId: od.id });
      return;
    }
    // A probe followed by a write of the same file was the write's preparation (sysctl -w stats then
    // writes). Also when the write fails because the filesystem is read-only (sysctl -p in a container
    // with a read-only /proc/sys): it still only meant to write, and a stat reveals no value. Not for
    // other failures: a write-open of a directory (EISDIR) or one refused (EACCES) must not be a way
    // to have stats of anything forgotten.
    if (access.action === 'write' && (access.error === undefined || access.error === 'EROFS') && access.isDirectory !== true) {
      const key = contributionKey(access.pid, true, access.path);
      const dirs = [parentDirectory(access.path), access.path];
      let withdrawn = false;
      for (const s of chain) for (const dir of dirs) if (this.windows.get(s.key)?.retract(dir, key) === true) withdrawn = true;
      if (withdrawn) this.options.trace?.({ kind: 'withdrawn', recipe, actor, path: access.path });
    }
    if (!c.evidence) return;
    const key = c.unit === undefined ? '' : contributionKey(access.pid, c.probe, access.path);
    for (let i = 0; i < chain.length; i++) {
      const s = chain[i];
      if (s === undefined || this.closed.has(s.key)) continue;
      const window = this.windowFor(s);
      window.add(access, actor, c.unit, key);
      if (c.unit === undefined) continue;
      const distinct = window.distinctDirectories(access.timeMs);
      this.options.trace?.({ kind: 'counted', recipe, scope: s.scope, actor: s.actor, distinct, timeMs: access.timeMs });
      if (distinct < recipe.aggregate.threshold) continue;
      if (this.deferred.has(s.key)) return;
      const children = s.scope === 'process-tree' ? this.liveChildSubtrees(s.process, window) : [];
      if (children.length > 0) {
        this.deferred.set(s.key, {
          subject: s, above: chain.slice(i + 1), children, atMs: access.timeMs, untilMs: access.timeMs + window.windowMs,
          counted: window.contributors(), evidence: window.windowedEvidence(),
        });
        this.options.trace?.({ kind: 'deferred', recipe, scope: s.scope, actor: s.actor, children: children.map((ch) => ch.pid), distinct, timeMs: access.timeMs });
        return;
      }
      this.fire(s, window, access.timeMs, chain.slice(i + 1), out);
      return;
    }
  }

  private windowFor(s: Subject): SubjectWindow {
    let window = this.windows.get(s.key);
    if (window === undefined) {
      window = new SubjectWindow(scopeWindowMs(s.recipe, s.scope) ?? 0, this.windowEvidenceCapacity);
      if (this.windows.size >= this.subjectCapacity) {
        const oldest = this.windows.keys().next();
        if (oldest.done !== true) this.windows.delete(oldest.value);
      }
      this.windows.set(s.key, window);
    } else {
      // Keep the map ordered by activity so the capacity drops the least recently active subject.
      this.windows.delete(s.key);
      this.windows.set(s.key, window);
    }
    return window;
  }

  /** The first of the recipe's limits this subject's detection would exceed, counting it when none is. */
  private takeLimit(s: Subject): LimitKind | undefined {
    const limits = s.recipe.limits;
    const p = s.process;
    // The file really run when known, so /bin/cat and /usr/bin/cat are one executable.
    const exeOf = (x: ProcessInfo): string => x.verifiedExe ?? x.exe ?? '?';
    const chainExes = [...this.processes.ancestryOf(p)].reverse().map(exeOf);
    const keys: [LimitKind, number | undefined, string][] = [
      ['perProcess', limits.perProcess, `${String(s.actor)}\0${String(p.startMs)}`],
      ['perExe', limits.perExe, exeOf(p)],
      ['perAncestry', limits.perAncestry, [...chainExes, exeOf(p)].join('\0')],
      ['perHost', limits.perHost, ''],
    ];
    for (const [kind, limit, value] of keys) {
      if (limit !== undefined && (this.limitCounts.get(`${s.recipe.id}\0${kind}\0${value}`) ?? 0) >= limit) return kind;
    }
    for (const [kind, limit, value] of keys) {
      if (limit === undefined) continue;
      const k = `${s.recipe.id}\0${kind}\0${value}`;
      const count = (this.limitCounts.get(k) ?? 0) + 1;
      // Re-inserted so the oldest counters are forgotten first once the map is full.
      this.limitCounts.delete(k);
      this.limitCounts.set(k, count);
      if (this.limitCounts.size > this.subjectCapacity) {
        const oldest = this.limitCounts.keys().next();
        if (oldest.done !== true) this.limitCounts.delete(oldest.value);
      }
    }
    return undefined;
  }

  private fire(s: Subject, window: SubjectWindow, nowMs: number, above: readonly Subject[], out: EngineOutput[], earlier: readonly WindowedAccess[] = []): void {
    // What fired (or was suppressed) here must not add up again in the ancestors' windows.
    const inSubject = s.scope === 'process' ? (a: number) => a === s.actor : (a: number) => this.isWithin(a, s.process);
    const limit = this.takeLimit(s);
    if (limit !== undefined) {
      const name = `${s.recipe.id} ${LIMIT_KEYS[limit]}`;
      this.suppressed.set(name, (this.suppressed.get(name) ?? 0) + 1);
      this.options.trace?.({ kind: 'suppressed', recipe: s.recipe, scope: s.scope, actor: s.actor, limit, distinct: window.distinctDirectories(nowMs), timeMs: nowMs });
      this.windows.delete(s.key);
      this.markClosed(s.key);
      for (const up of above) {
        this.windows.get(up.key)?.purge(inSubject);
        this.purgeDeferred(up.key, inSubject);
      }
      return;
    }
    const evidence = new EvidenceAccumulator(this.fileCapacity, MAX_DIRECTORIES);
    const current = window.windowedEvidence();
    const seen = new Set(current.map((e) => e.access));
    for (const { access } of [...earlier.filter((e) => !seen.has(e.access)), ...current]) {
      const c = classifyAccess(access, s.recipe);
      if (c?.evidence === true) evidence.add(access, c);
    }
    const od: OpenDetection = {
      subject: s, id: `${this.options.sessionId}-${++this.sequence}`, firedMs: nowMs, evidence, lastMs: nowMs,
      subjectAtFire: s.process, ancestryAtFire: this.processes.ancestryOf(s.process), revision: 1, emittedMs: nowMs, changed: false,
    };
    this.options.trace?.({ kind: 'fired', recipe: s.recipe, scope: s.scope, actor: s.actor, detectionId: od.id, distinct: window.distinctDirectories(nowMs), timeMs: nowMs });
    this.open.set(s.key, od);
    this.windows.delete(s.key);
    for (const up of above) {
      this.windows.get(up.key)?.purge(inSubject);
      this.purgeDeferred(up.key, inSubject);
    }
    out.push({ type: 'opened', detection: this.build(od, 'open') });
  }

  /** Keyed by pid and start time, so a recycled pid is a new subject. */
  private subject(recipe: Recipe, scope: SubjectScope, actor: ProcessInfo): Subject {
    return { recipe, scope, actor: actor.pid, process: actor, key: `${recipe.id}\0${scope}\0${actor.pid}\0${actor.startMs ?? ''}` };
  }

  private isWithin(actor: number, ancestor: ProcessInfo): boolean {
    let current: ProcessInfo | undefined = this.processOf(actor);
    for (let depth = 0; current !== undefined && depth < MAX_CHAIN; depth++) {
      if (sameProcess(current, ancestor)) return true;
      current = this.processes.parentOf(current);
    }
    return false;
  }

  /** `final`: the subject is done and never gets another detection (else a later burst may open one). */
  private close(key: string, out: EngineOutput[], final = true): void {
    const od = this.open.get(key);
    if (od === undefined) return;
    this.open.delete(key);
    // A change still pending goes out with the close: its evidence is the final one.
    this.changed.delete(key);
    od.revision++;
    if (final) this.markClosed(key);
    out.push({ type: 'closed', detection: this.build(od, 'closed') });
  }

  private markClosed(key: string): void {
    this.closed.add(key);
    if (this.closed.size > this.subjectCapacity) {
      const oldest = this.closed.values().next();
      if (oldest.done !== true) this.closed.delete(oldest.value);
    }
  }

  /** The sensor lost events or was down (a 'sensor-loss' event): detections of subjects live then say so. */
  noteLoss(event: SensorLossEvent): void {
    this.loss.note(event);
  }

  private build(od: OpenDetection, state: Detection['state']): Detection {
    const s = od.subject;
    const evidence = od.evidence.summary();
    // The table's entry holds the latest facts (exit status), unless the pid now belongs to another process.
    const current = this.processes.get(s.actor);
    const same = current !== undefined && current.startMs === od.subjectAtFire.startMs;
    const subjectInfo = same ? current : od.subjectAtFire;
    const members = evidence.pids
      .filter((pid) => pid !== s.actor)
      .slice(0, 64)
      .map((pid) => this.processes.get(pid))
      .filter((p): p is ProcessInfo => p !== undefined);
    // The subject's life: from its start (unknown: it predates the sensor) to its exit, or now.
    const lifeMs = [subjectInfo, ...members];
    // A process that predates the sensor has no start: its evidence window is what matters
    // (a months-old daemon is not charged with every loss since tripline started).
    const windowStartMs = evidence.firstMs - (scopeWindowMs(s.recipe, s.scope) ?? 0);
    const fromMs = Math.max(Math.min(...lifeMs.map((p) => p.startMs ?? -Infinity)), windowStartMs);
    const ends = lifeMs.map((p) => p.exitMs ?? Infinity);
    const toMs = Math.min(Math.max(...ends), this.nowMs === -Infinity ? Infinity : Math.max(this.nowMs, od.lastMs));
    const missed = this.loss.within(fromMs, toMs);
    return buildDetection({
      id: od.id,
      revision: od.revision,
      state,
      firedMs: od.firedMs,
      recipe: s.recipe,
      scope: s.scope,
      subject: subjectInfo,
      ancestry: same ? this.processes.ancestryOf(current) : od.ancestryAtFire,
      members,
      evidence,
      context: this.context,
      missed,
    });
  }
}

/** The same process: the table's own object, or (a process it does not know) the same pid and start. */
function sameProcess(a: ProcessInfo, b: ProcessInfo): boolean {
  return a === b || (a.pid === b.pid && a.startMs === b.startMs);
}

function unknownProcess(pid: number): ProcessInfo {
  return {
    pid, ppid: undefined, exe: undefined, verifiedExe: undefined, argv: [], argvTruncated: false, cwd: undefined, uid: undefined,
    startMs: undefined, exitMs: undefined, exitCode: undefined, exitSignal: undefined, execed: false,
  };
}
