// The subject's process ancestry as a tree: the monitored root at the top, each parent holding
// the next, the subject marked, and under it the other processes whose accesses are in the
// evidence (nested by their parent pid when that parent is known).

import type { Detection, DetectionProcess } from '../../model/detection.ts';
import { h } from './dom-builder.ts';
import { commandLine, visible } from './display-text.ts';

function processLabel(p: DetectionProcess, role: string | undefined): HTMLElement {
  const name = p.comm === '' ? (p.exe ?? '?') : p.comm;
  return h('div', { className: `process${role === undefined ? '' : ' process-subject'}` },
    h('span', { className: 'process-name' }, visible(name)),
    h('span', { className: 'muted' }, ` pid ${String(p.pid)}`),
    role === undefined ? null : h('span', { className: 'badge subject-badge' }, role),
    p.exe === null ? null : h('div', { className: 'process-exe' }, visible(p.exe)),
    p.argv.length === 0 ? null : h('code', { className: 'process-argv' }, commandLine(p.argv, p.argvTruncated)),
  );
}

/** Members nested under their parent when it is the subject or another member; the rest under the subject. */
function memberTree(subject: DetectionProcess, members: readonly DetectionProcess[]): HTMLUListElement | null {
  if (members.length === 0) return null;
  const pids = new Set(members.map((m) => m.pid));
  const children = new Map<number, DetectionProcess[]>();
  for (const m of members) {
    const parent = m.ppid !== null && m.ppid !== m.pid && pids.has(m.ppid) ? m.ppid : subject.pid;
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const seen = new Set<number>();
  const list = (pid: number): HTMLUListElement | null => {
    const kids = (children.get(pid) ?? []).filter((k) => !seen.has(k.pid));
    if (kids.length === 0) return null;
    for (const k of kids) seen.add(k.pid);
    return h('ul', {}, ...kids.map((k) => h('li', {}, processLabel(k, undefined), list(k.pid))));
  };
  return list(subject.pid);
}

export function ancestryTree(d: Detection): HTMLElement {
  const subject = d.subject.process;
  // ancestry is parent first: the tree starts from its end.
  let node: HTMLLIElement = h('li', {}, processLabel(subject, d.subject.scope === 'process-tree' ? 'subject (with its children)' : 'subject'), memberTree(subject, d.subject.members));
  for (const ancestor of d.subject.ancestry) node = h('li', {}, processLabel(ancestor, undefined), h('ul', {}, node));
  return h('ul', { className: 'tree', attrs: { 'aria-label': 'process ancestry, from the oldest ancestor to the subject' } }, node);
}
