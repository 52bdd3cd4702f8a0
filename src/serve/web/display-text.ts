// How the page writes values: times in UTC, durations, command lines; every text that came
// from a process passes through `visible` (control characters and bidi overrides shown as
// escapes, as in the terminal outputs) before it becomes a text node.

import { visible } from '../../model/visible.ts';

export { visible };

/** "2026-12-01 04:13:43.120 UTC"; the input as given when it is not a time. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return visible(iso);
  return `${new Date(t).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** "340 ms", "12.5 s", "3 min 20 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${String(Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${String(Math.floor(ms / 60_000))} min ${String(Math.round((ms % 60_000) / 1000))} s`;
  return `${String(Math.floor(ms / 3_600_000))} h ${String(Math.round((ms % 3_600_000) / 60_000))} min`;
}

/** A command line as a shell would take it back: words with special characters single-quoted; escapes visible. */
export function commandLine(argv: readonly string[], truncated: boolean): string {
  const words = argv.map((a) => (a !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`));
  return visible(words.join(' ')) + (truncated ? ' …(truncated)' : '');
}

/** A number with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
