// Parses strace's text output (-f -ttt -yy) line by line into records, joining
// "<unfinished ...>" halves with their "<... X resumed>" halves per thread.

import { decodeAnnotationPath, scanArgs, skipAnnotation } from './strace-args.ts';

export interface StraceReturn {
  /** The return value as printed ("3", "-1", "?", "0x7f..."). */
  readonly raw: string;
  /** The numeric value when it is a decimal or hex number. */
  readonly value: number | undefined;
  /** Path of a returned fd (`= 3</proc/sys/net/core>`). */
  readonly fdPath: string | undefined;
  readonly errno: string | undefined;
  /**
   * With --pidns-translation, a pid returned in another pid namespace (`= 2`, followed by the
   * comment `1158 in strace's PID NS`): `value` is then the pid in strace's namespace (1158) and
   * this the one printed (2).
   */
  readonly nsValue?: number;
}

export interface SyscallRecord {
  readonly type: 'syscall';
  readonly tid: number;
  readonly timeMs: number;
  readonly name: string;
  readonly args: readonly string[];
  readonly ret: StraceReturn;
}

export interface ExitedRecord {
  readonly type: 'exited';
  readonly tid: number;
  readonly timeMs: number;
  readonly code: number;
}

export interface KilledRecord {
  readonly type: 'killed';
  readonly tid: number;
  readonly timeMs: number;
  readonly signal: string;
  readonly coreDumped: boolean;
}

export interface SignalRecord {
  readonly type: 'signal';
  readonly tid: number;
  readonly timeMs: number;
  readonly signal: string;
}

/** Something strace said that is not a syscall (e.g. "+++ superseded by execve in pid N +++"). */
export interface NoticeRecord {
  readonly type: 'notice';
  readonly tid: number;
  readonly timeMs: number;
  readonly text: string;
}

export type StraceRecord = SyscallRecord | ExitedRecord | KilledRecord | SignalRecord | NoticeRecord;

export interface ParseFailure {
  readonly type: 'unparsed';
  readonly reason: string;
}

const UNFINISHED = ' <unfinished ...>';
const EXITED = /^\+\+\+ exited with (-?\d+) \+\+\+$/;
const KILLED = /^\+\+\+ killed by (SIG[A-Z0-9+-]+)( \(core dumped\))? \+\+\+$/;
const SIGNAL = /^--- (SIG[A-Z0-9+-]+|\d+) /;
const RESUMED = /^<\.\.\. ([a-z0-9_]+) resumed>/;
const SYSCALL_NAME = /^([a-z0-9_]+)\(/;

interface Pending {
  readonly timeMs: number;
  readonly name: string;
  readonly head: string;
}

export class StraceLineParser {
  private readonly pending = new Map<number, Pending>();
  /** Thread id used for lines without a pid column (strace run without -f). */
  private readonly defaultTid: number;

  constructor(options: { defaultTid?: number } = {}) {
    this.defaultTid = options.defaultTid ?? 0;
  }

  /** Number of calls still waiting for their "resumed" half. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Parses one line (without its newline). Returns undefined for a line that only opened a
   * call ("<unfinished ...>"), whose record comes with the matching "resumed" line.
   */
  parse(line: string): StraceRecord | ParseFailure | undefined {
    let i = 0;
    let tid = this.defaultTid;
    if (line.startsWith('[pid ')) {
      const close = line.indexOf(']');
      if (close < 0) return fail('bad [pid N] prefix');
      tid = Number(line.slice(5, close).trim());
      i = close + 1;
      while (line.charCodeAt(i) === 0x20) i++;
    }
    // Leading number: a pid (followed by spaces and a timestamp) or the timestamp itself.
    let tokenEnd = i;
    while (tokenEnd < line.length && line.charCodeAt(tokenEnd) !== 0x20) tokenEnd++;
    let token = line.slice(i, tokenEnd);
    if (/^\d+$/.test(token)) {
      tid = Number(token);
      i = tokenEnd;
      while (line.charCodeAt(i) === 0x20) i++;
      tokenEnd = line.indexOf(' ', i);
      if (tokenEnd < 0) return fail('line ends after the pid');
      token = line.slice(i, tokenEnd);
    }
    const timeMs = parseTimestamp(token);
    if (timeMs === undefined) return fail('no -ttt timestamp');
    if (!Number.isSafeInteger(tid)) return fail('bad pid');
    const rest = line.slice(tokenEnd + 1);
    const first = rest.charCodeAt(0);

    if (first === 0x2b /* + */) return parseExit(rest, tid, timeMs);
    if (first === 0x2d /* - */) {
      const m = SIGNAL.exec(rest);
      return m?.[1] === undefined ? fail('bad signal line') : { type: 'signal', tid, timeMs, signal: m[1] };
    }
    if (first === 0x3c /* < */) {
      const m = RESUMED.exec(rest);
      if (m?.[1] === undefined) return fail('bad resumed line');
      const name = m[1];
      const head = this.pending.get(tid);
      this.pending.delete(tid);
      if (head?.name !== name) return fail(`"${name} resumed" without its unfinished start`);
      return parseCall(name, head.head + rest.slice(m[0].length), tid, head.timeMs);
    }
    const m = SYSCALL_NAME.exec(rest);
    if (m?.[1] === undefined) return fail('not a syscall line');
    const name = m[1];
    if (rest.endsWith(UNFINISHED)) {
      this.pending.set(tid, { timeMs, name, head: rest.slice(m[0].length, rest.length - UNFINISHED.length) });
      return undefined;
    }
    return parseCall(name, rest.slice(m[0].length), tid, timeMs);
  }

  /** Whether some thread has an unfinished call to one of `names` (e.g. a fork not yet returned). */
  hasPending(names: ReadonlySet<string>): boolean {
    for (const p of this.pending.values()) if (names.has(p.name)) return true;
    return false;
  }

  /** Forgets a thread's unfinished call (the thread is gone). */
  dropThread(tid: number): void {
    this.pending.delete(tid);
  }
}

function fail(reason: string): ParseFailure {
  return { type: 'unparsed', reason };
}

/** "1795984469.131423" → milliseconds, keeping the microseconds as the fraction. */
function parseTimestamp(token: string): number | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const seconds = token.slice(0, dot);
  const fraction = token.slice(dot + 1);
  if (!/^\d+$/.test(seconds) || !/^\d{1,9}$/.test(fraction)) return undefined;
  return Number(seconds) * 1000 + Number(fraction.padEnd(9, '0')) / 1e6;
}

function parseExit(rest: string, tid: number, timeMs: number): StraceRecord | ParseFailure {
  const exited = EXITED.exec(rest);
  if (exited?.[1] !== undefined) return { type: 'exited', tid, timeMs, code: Number(exited[1]) };
  const killed = KILLED.exec(rest);
  if (killed?.[1] !== undefined) return { type: 'killed', tid, timeMs, signal: killed[1], coreDumped: killed[2] !== undefined };
  if (rest.startsWith('+++ ') && rest.endsWith(' +++')) return { type: 'notice', tid, timeMs, text: rest.slice(4, -4) };
  return fail('bad +++ line');
}

/** `body` is everything after "name(": the arguments, ")", and " = RET ...". */
function parseCall(name: string, body: string, tid: number, timeMs: number): SyscallRecord | ParseFailure {
  const scanned = scanArgs(body, 0);
  if (scanned === undefined) return fail(`unbalanced arguments of ${name}`);
  const after = body.slice(scanned.end + 1);
  const eq = after.indexOf('= ');
  if (eq < 0 || after.slice(0, eq).trim() !== '') return fail(`no return value for ${name}`);
  const ret = parseReturn(after.slice(eq + 2));
  return { type: 'syscall', tid, timeMs, name, args: scanned.args, ret };
}

function parseReturn(text: string): StraceReturn {
  let end = 0;
  while (end < text.length && text.charCodeAt(end) !== 0x20 && text.charCodeAt(end) !== 0x3c) end++;
  const raw = text.slice(0, end);
  let fdPath: string | undefined;
  let i = end;
  if (text.charCodeAt(i) === 0x3c) {
    fdPath = decodeAnnotationPath(text.slice(i));
    // Skip the annotation whatever its kind; what follows is the errno, if any.
    const next = skipAnnotation(text, i);
    i = next < 0 ? text.length : next;
  }
  let errno: string | undefined;
  const tail = text.slice(i).trimStart();
  const em = /^(E[A-Z0-9]+)\b/.exec(tail);
  if (em?.[1] !== undefined) errno = em[1];
  let value: number | undefined;
  if (/^-?\d+$/.test(raw)) value = Number(raw);
  else if (/^0x[0-9a-f]+$/i.test(raw)) value = Number.parseInt(raw, 16);
  const translated = /^\/\* (\d+) in strace's PID NS \*\//.exec(tail);
  if (value !== undefined && translated?.[1] !== undefined) return { raw, value: Number(translated[1]), fdPath, errno, nsValue: value };
  return { raw, value, fdPath, errno };
}
