// A timeline of the accesses: one line per evidence file from its first to its last access, in
// the order they were first touched, on one time axis from the detection's first access to
// its last. Drawn in SVG built node by node; paths are text nodes.

import type { Detection } from '../../model/detection.ts';
import { h, svg } from './dom-builder.ts';
import { formatDuration, formatTime, visible } from './display-text.ts';

const WIDTH = 960;
const LABEL = 360;
const ROW = 18;
const TOP = 24;
/** Most files drawn; the table lists every one. */
const MAX_ROWS = 40;

export function accessTimeline(d: Detection): HTMLElement {
  const e = d.evidence;
  const start = Date.parse(e.first);
  const end = Date.parse(e.last);
  const files = [...e.files].sort((a, b) => Date.parse(a.first) - Date.parse(b.first) || a.path.localeCompare(b.path));
  const shown = files.slice(0, MAX_ROWS);
  const span = Math.max(1, end - start);
  const x = (iso: string): number => {
    const t = Date.parse(iso);
    return LABEL + 8 + (Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, (t - start) / span))) * (WIDTH - LABEL - 24);
  };
  const height = TOP + shown.length * ROW + 8;
  const rows = shown.map((f, i) => {
    const y = TOP + i * ROW + ROW / 2;
    const x1 = x(f.first);
    const x2 = Math.max(x(f.last), x1 + 2);
    const label = f.path.length > 52 ? `…${f.path.slice(-51)}` : f.path;
    return svg('g', { class: f.counted ? 'access counted' : 'access' },
      svg('title', {}, `${visible(f.path)}: ${String(f.count)} access${f.count === 1 ? '' : 'es'}, first ${formatTime(f.first)}, last ${formatTime(f.last)}${f.counted ? ', counted' : ''}`),
      svg('text', { x: LABEL, y: y + 4, 'text-anchor': 'end', class: 'access-label' }, visible(label)),
      svg('line', { x1, x2, y1: y, y2: y, class: 'access-span' }),
      svg('circle', { cx: x1, cy: y, r: 4, class: 'access-first' }),
    );
  });
  const axis = svg('g', { class: 'axis' },
    svg('line', { x1: LABEL + 8, x2: WIDTH - 16, y1: TOP - 8, y2: TOP - 8 }),
    svg('text', { x: LABEL + 8, y: TOP - 12, 'text-anchor': 'start' }, '0'),
    svg('text', { x: WIDTH - 16, y: TOP - 12, 'text-anchor': 'end' }, `+${formatDuration(end - start)}`),
  );
  const figure = svg('svg', { viewBox: `0 0 ${String(WIDTH)} ${String(height)}`, class: 'timeline', role: 'img', 'aria-labelledby': 'timeline-caption' }, axis, ...rows);
  const caption = `${String(e.files.length + e.filesOmitted)} file${e.files.length + e.filesOmitted === 1 ? '' : 's'} accessed ${String(e.accessCount)} times from ${formatTime(e.first)} to ${formatTime(e.last)} (${formatDuration(end - start)})`
    + `${files.length > MAX_ROWS ? `; the first ${String(MAX_ROWS)} drawn` : ''}${e.filesOmitted > 0 ? `; ${String(e.filesOmitted)} not listed (the evidence list was full)` : ''}. Dots: first access; lines: until the last. Counted files in colour.`;
  return h('figure', { className: 'timeline-figure' }, figure, h('figcaption', { id: 'timeline-caption' }, caption));
}
