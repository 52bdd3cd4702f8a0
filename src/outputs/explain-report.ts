// `tripline recipes explain`: what a recipe made of one run, subject by subject. Which
// accesses counted (for which directory), which did not and why, which exceptions applied,
// and why each subject fired or stayed silent.

import type { NotCountedReason } from '../engine/access-classifier.ts';
import type { EngineTrace } from '../engine/engine.ts';
import { commandName, type ProcessInfo } from '../model/process-info.ts';
import type { Recipe, SubjectScope } from '../model/recipe.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import { visible } from './terminal-text.ts';

interface PathLine {
  readonly path: string;
  readonly actions: Set<string>;
  count: number;
  readonly why: string;
}

interface ActorState {
  readonly counted: Map<string, PathLine>;
  readonly notCounted: Map<string, PathLine>;
  readonly excepted: Map<string, PathLine>;
  readonly withdrawn: Set<string>;
  /** Per scope: the most distinct units seen together in a window, and how it ended. */
  readonly peak: Map<SubjectScope, number>;
  readonly outcome: Map<SubjectScope, string>;
  /** Detections (by owner and scope) this process's later accesses were added to. */
  readonly mergedInto: Set<string>;
}

const MAX_LINES = 12;

function why(reason: NotCountedReason, recipe: Recipe, error: string | undefined, action: string): string {
  switch (reason) {
    case 'write':
      return `a write: evidence of a change, not of exploring (writes: ${recipe.match.writes})`;
    case 'probe-failed':
      return `failed with ${error ?? '?'}, one of match.probe_errors (failed_probes: ${recipe.match.failedProbes})`;
    case 'action-not-counted':
      return `${action} is not in match.actions`;
    case 'root-itself':
      return 'the root itself (count_root: false): every path into the tree passes it';
    case 'not-included':
      return 'matches no match.include pattern';
    case 'excluded':
      return 'matches a match.exclude pattern';
  }
}

/** What kind of line an access belongs to, so one path read and written shows both. */
function text0(step: Extract<EngineTrace, { kind: 'access' }>): string {
  if (step.exception !== undefined) return 'x';
  return step.classification.unit !== undefined ? 'c' : step.classification.reason;
}

export class ExplainCollector {
  private readonly actors = new Map<number, ActorState>();
  private readonly order: number[] = [];

  constructor(private readonly recipe: Recipe) {}

  readonly observe = (step: EngineTrace): void => {
    if (step.recipe.id !== this.recipe.id) return;
    switch (step.kind) {
      case 'access': {
        const a = this.actor(step.actor);
        const c = step.classification;
        const key = `${step.access.path}\0${text0(step)}`;
        const [map, text] = step.exception !== undefined
          ? [a.excepted, `exception "${step.exception.name}" (${step.exception.origin})`]
          : c.unit !== undefined
            ? [a.counted, `counts for ${c.unit}`]
            : [a.notCounted, why(c.reason as NotCountedReason, this.recipe, step.access.error, step.access.action)];
        const line = map.get(key) ?? { path: step.access.path, actions: new Set<string>(), count: 0, why: text };
        line.actions.add(step.access.error === undefined ? step.access.action : `${step.access.action} ${step.access.error}`);
        line.count++;
        map.set(key, line);
        return;
      }
      case 'withdrawn':
        this.actor(step.actor).withdrawn.add(step.path);
        return;
      case 'counted': {
        const a = this.actor(step.actor);
        a.peak.set(step.scope, Math.max(a.peak.get(step.scope) ?? 0, step.distinct));
        return;
      }
      case 'fired':
        this.actor(step.actor).outcome.set(step.scope, `fired at ${new Date(step.timeMs).toISOString()} with ${String(step.distinct)} (detection ${step.detectionId})`);
        this.actor(step.actor).peak.set(step.scope, Math.max(this.actor(step.actor).peak.get(step.scope) ?? 0, step.distinct));
        return;
      case 'suppressed':
        this.actor(step.actor).outcome.set(step.scope, `reached ${String(step.distinct)} but was not raised: the ${step.limit} limit was reached`);
        return;
      case 'deferred':
        // Replaced by "fired" if it fires once the children it waited for have ended.
        this.actor(step.actor).outcome.set(step.scope, `reached ${String(step.distinct)}, waited for children ${step.children.join(', ')} (each may fire on its own), then had too little left to fire`);
        return;
      case 'merged':
        this.actor(step.from).mergedInto.add(`${step.scope === 'process' ? 'detection' : 'process-tree detection'} of process ${String(step.actor)} (${step.detectionId})`);
        return;
    }
  };

  private actor(pid: number): ActorState {
    let a = this.actors.get(pid);
    if (a === undefined) {
      a = { counted: new Map(), notCounted: new Map(), excepted: new Map(), withdrawn: new Set(), peak: new Map(), outcome: new Map(), mergedInto: new Set() };
      this.actors.set(pid, a);
      this.order.push(pid);
    }
    return a;
  }

  /** Whether any subject fired. */
  get fired(): boolean {
    return [...this.actors.values()].some((a) => [...a.outcome.values()].some((o) => o.startsWith('fired')));
  }

  render(lookup: (pid: number) => ProcessInfo | undefined): string {
    const r = this.recipe;
    const unit = r.aggregate.count;
    const scopes = r.aggregate.scopes.map((s) => `${s.scope === 'process' ? 'process' : 'parent-with-children'} within ${String(s.windowMs / 1000)} s`).join(', ');
    const out: string[] = [
      `explain ${r.id}: fires at ${String(r.aggregate.threshold)} distinct ${unit} ${r.match.countRoot ? 'at or below' : 'below'} ${r.match.roots.join(', ')} (${scopes}); ${String(r.exceptions.length)} exception(s)`,
    ];
    if (this.order.length === 0) {
      out.push('', `no process touched ${r.match.roots.join(', ')}: nothing to count, the recipe stayed silent`);
      return out.join('\n');
    }
    // In pid order, which is mostly the order processes were started in.
    for (const pid of [...this.order].sort((x, y) => x - y)) {
      const a = this.actors.get(pid);
      if (a === undefined) continue;
      const p = lookup(pid);
      const cmd = p === undefined ? '?' : visible(shellQuote(p.argv.length > 0 ? p.argv : [commandName(p)]));
      out.push('', `process ${String(pid)}: ${cmd.length > 100 ? `${cmd.slice(0, 97)}...` : cmd}${p?.exe === undefined ? '' : ` (exe ${visible(p.exe)})`}`);
      section(out, 'counted', a.counted, a.withdrawn);
      section(out, 'not counted', a.notCounted, new Set());
      section(out, 'excepted', a.excepted, new Set());
      for (const s of r.aggregate.scopes) {
        const name = s.scope === 'process' ? 'as a process' : 'with its children';
        const outcome = a.outcome.get(s.scope);
        const peak = a.peak.get(s.scope);
        const verdict = outcome ?? (a.counted.size === 0 && a.excepted.size > 0
          ? 'silent: every access was excepted'
          : peak === undefined && a.mergedInto.size > 0
            ? 'not counted on its own: an ancestor had already fired (below)'
            : `silent: at most ${String(peak ?? 0)} distinct ${unit} within ${String(s.windowMs / 1000)} s, ${String(r.aggregate.threshold)} needed`);
        out.push(`  ${name}: ${verdict}`);
      }
      for (const m of a.mergedInto) out.push(`  its accesses went into the open ${m}`);
    }
    out.push('', this.fired ? `verdict: ${r.id} fired` : `verdict: ${r.id} stayed silent`);
    return out.join('\n');
  }
}

function section(out: string[], title: string, lines: Map<string, PathLine>, withdrawn: ReadonlySet<string>): void {
  if (lines.size === 0) return;
  out.push(`  ${title} (${String(lines.size)} path${lines.size === 1 ? '' : 's'}):`);
  let shown = 0;
  for (const l of lines.values()) {
    if (shown++ >= MAX_LINES) {
      out.push(`    ... and ${String(lines.size - MAX_LINES)} more`);
      break;
    }
    const note = withdrawn.has(l.path) ? '; its probe was withdrawn: the same process then wrote the file' : '';
    out.push(`    ${visible(l.path)}  [${[...l.actions].join(', ')}${l.count > 1 ? ` ×${String(l.count)}` : ''}]  ${l.why}${note}`);
  }
}
