// Decodes the binary records the compiled sensor writes (layout: tripline-records.h) into the
// records tripline.bt's lines parse to, so both eBPF programs feed one BpfEventStream.

import type { BpfParseFailure, BpfRecord, FileRecord } from '../bpftrace/bpftrace-line-parser.ts';

export const RECORD = { ready: 1, fork: 2, exec: 3, exit: 4, tick: 5, sync: 6, file: 7, lost: 8, tier: 9, roots: 10 } as const;

/** Sizes and offsets of tripline-records.h (a test compiles the header and checks them). */
export const LAYOUT = {
  header: 16,
  ready: 40,
  lost: 32,
  fork: 64,
  exit: 56,
  /** EXEC: the cgroup's depth, its directory's name and its parent's (128 bytes each), its top directory's (32) before argv. */
  exec: { cgroupLevel: 84, cgroupLeaf: 96, cgroupParent: 96 + 128, cgroupTop: 96 + 256, argv: 384, filename: 384 + 1024, max: 384 + 1024 + 4096 },
  cgroupNameMax: 128,
  cgroupTopMax: 32,
  /** The FILE record: a 64-byte head, then names_len bytes of packed names, then the path. */
  file: { data: 64, max: 64 + 2048 + 4096 },
  /** TIER: a 24-byte head, then reason_len bytes of text. */
  tier: { reason: 24, max: 24 + 256 },
  roots: 24,
  maxNames: 16,
  nameMax: 64,
} as const;

/** No record is longer. */
const MAX_RECORD = Math.max(LAYOUT.exec.max, LAYOUT.file.max);

/**
 * The records' own version (tl_ready.version): a loader of another version is refused.
 * 2: TIER before READY; 3: ROOTS; 4: FORK and EXEC carry the cgroup v2 id, EXEC its directory's
 * name and its parent's; 5: EXEC the cgroup's depth and its top directory's name (names anchored
 * to the root: a delegated subtree can hold any name, never at a runtime's depth under its top).
 */
export const RECORDS_VERSION = 5;

/** The loader's answer to new recipe roots on its stdin (a ROOTS record): how many are in force, or why not (errno). */
export interface RootsAnswer {
  readonly count: number;
  readonly error: number;
}

/** Call kinds (enum tl_call) → the syscall names the event stream knows; i386 and io_uring calls are prefixed. */
const CALLS: readonly string[] = [
  '', 'open', 'openat', 'openat2', 'creat', 'newstat', 'newlstat', 'newfstatat', 'statx', 'access', 'faccessat', 'faccessat2', 'readlink',
  'readlinkat', 'chdir', 'fchdir', 'getdents64', 'getdents', 'statfs', 'fstatfs', 'open_by_handle_at', 'open_tree',
  'io_uring:openat', 'io_uring:openat2', 'io_uring:statx',
];

export const FILE_FLAG = { pathAtExit: 1, pathUnread: 2, deep: 4, resultUnknown: 8 } as const;

export interface ReadyInfo {
  readonly selfPid: number;
  readonly treeRoot: number;
  readonly version: number;
}

/**
 * What became of the security-hook tier at start (TL_HOOKS_* in tripline-records.h):
 * `unavailable` its object did not open, `refused` the kernel would not load it (this machine:
 * EPERM), `unattached` loaded but not attached, `probed` attached and saw the loader's own test
 * accesses, `blind` attached but missed some of them. Probed or not, it is detached again.
 */
export type HooksState = 'unavailable' | 'refused' | 'unattached' | 'probed' | 'blind';
const HOOKS_STATES: readonly (HooksState | undefined)[] = [undefined, 'unavailable', 'refused', 'unattached', 'probed', 'blind'];

/** The TIER record: which tier writes the FILE records, and why (the kernel's refusal of the hooks). */
export interface TierInfo {
  /** The programs that write FILE records: the raw syscall and io_uring tracepoints. */
  readonly tier: 'tracepoints';
  readonly hooks: HooksState;
  /** errno of the refusal (1: EPERM), 0 when there was none. */
  readonly error: number;
  /** The loader's words, e.g. `the kernel refused the security-hook programs (fentry/security_file_open): Operation not permitted`. */
  readonly reason: string;
}

export type DecodedRecord = BpfRecord | BpfParseFailure;

/** A stream out of step (a record size that cannot be): nothing after it can be trusted. */
export class RecordStreamError extends Error {}

/** NUL-terminated strings packed one after another. */
function packedStrings(buf: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < buf.length) {
    const end = buf.indexOf(0, start);
    const stop = end === -1 ? buf.length : end;
    out.push(buf.toString('utf8', start, stop));
    start = stop + 1;
  }
  return out;
}

function cString(buf: Buffer, start: number, max: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + max ? start + max : end);
}

export class RecordDecoder {
  private pending: Buffer = Buffer.alloc(0);
  /** What the READY record said, once it came. */
  ready: ReadyInfo | undefined;
  /**
   * What the TIER record said. The loader writes it just before READY, so it is set when the
   * `ready` record reaches push()'s callback. It is not an event: push() keeps it here instead
   * of passing it to the callback (a malformed one is passed on as an unparsed record).
   */
  tier: TierInfo | undefined;
  /** Told each ROOTS record (not an event either: never passed to push()'s callback). */
  onRoots: ((answer: RootsAnswer) => void) | undefined;

  /** Decodes every whole record in `chunk` (and what was left of the last one). */
  push(chunk: Buffer, onRecord: (record: DecodedRecord) => void): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    while (buf.length - off >= LAYOUT.header) {
      const size = buf.readUInt32LE(off + 4);
      if (size < LAYOUT.header || size > MAX_RECORD) throw new RecordStreamError(`record of impossible size ${size} at byte ${off}`);
      if (buf.length - off < size) break;
      const record = buf.subarray(off, off + size);
      if (record.readUInt32LE(0) === RECORD.roots && record.length >= LAYOUT.roots) {
        this.onRoots?.({ count: record.readUInt32LE(16), error: record.readInt32LE(20) });
      } else if (record.readUInt32LE(0) === RECORD.tier) {
        const tier = this.readTier(record);
        if ('type' in tier) onRecord(tier);
        else this.tier = tier;
      } else {
        onRecord(this.decode(record));
      }
      off += size;
    }
    buf = buf.subarray(off);
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Bytes of a record not yet whole (a stream that ends with some was cut). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  decode(r: Buffer): DecodedRecord {
    const type = r.readUInt32LE(0);
    const ns = r.readBigUInt64LE(8);
    const need = (n: number, what: string): BpfParseFailure | undefined => (r.length < n ? { type: 'unparsed', reason: `short ${what} record (${r.length} bytes)` } : undefined);
    switch (type) {
      case RECORD.ready: {
        const short = need(LAYOUT.ready, 'READY');
        if (short) return short;
        this.ready = { selfPid: r.readUInt32LE(16), treeRoot: r.readUInt32LE(20), version: r.readUInt32LE(32) };
        return { type: 'ready', ns };
      }
      case RECORD.tick:
        return { type: 'tick', ns };
      case RECORD.sync:
        return { type: 'sync', ns };
      case RECORD.lost: {
        const short = need(LAYOUT.lost, 'LOST');
        if (short) return short;
        // Both counters are events not seen: a full ring buffer, or a call whose state could not be kept.
        return { type: 'lost', count: Number(r.readBigUInt64LE(16) + r.readBigUInt64LE(24)) };
      }
      case RECORD.fork: {
        const short = need(LAYOUT.fork, 'FORK');
        if (short) return short;
        return {
          type: 'fork', ns, parentTgid: r.readUInt32LE(16), parentTid: r.readUInt32LE(20), childTid: r.readUInt32LE(24), thread: r.readUInt32LE(28) !== 0,
          cloneFlags: r.readBigUInt64LE(32), parentStartNs: r.readBigUInt64LE(40), parentExecId: r.readUInt32LE(48), cgroupId: r.readBigUInt64LE(56),
        };
      }
      case RECORD.exit: {
        const short = need(LAYOUT.exit, 'EXIT');
        if (short) return short;
        return { type: 'exit', ns, tgid: r.readUInt32LE(16), execId: r.readUInt32LE(20), startNs: r.readBigUInt64LE(24), status: r.readInt32LE(32) };
      }
      case RECORD.exec: {
        const short = need(LAYOUT.exec.filename, 'EXEC');
        if (short) return short;
        const argCopied = Math.min(r.readUInt32LE(60), 1024);
        const filenameLength = r.readUInt32LE(64);
        if (LAYOUT.exec.filename + filenameLength > r.length) return { type: 'unparsed', reason: 'EXEC filename past the record' };
        return {
          type: 'exec', ns, tgid: r.readUInt32LE(16), ppid: r.readUInt32LE(20), uid: r.readUInt32LE(24), oldTid: r.readUInt32LE(28), startNs: r.readBigUInt64LE(32),
          execId: r.readUInt32LE(40), exeDev: r.readUInt32LE(44), exeIno: r.readBigUInt64LE(48), argLength: r.readUInt32LE(56), cgroupId: r.readBigUInt64LE(88),
          cgroupLeaf: cString(r, LAYOUT.exec.cgroupLeaf, LAYOUT.cgroupNameMax), cgroupParent: cString(r, LAYOUT.exec.cgroupParent, LAYOUT.cgroupNameMax),
          cgroupLevel: r.readUInt32LE(LAYOUT.exec.cgroupLevel), cgroupTop: cString(r, LAYOUT.exec.cgroupTop, LAYOUT.cgroupTopMax),
          argBytes: Buffer.from(r.subarray(LAYOUT.exec.argv, LAYOUT.exec.argv + argCopied)), comm: cString(r, 68, 16),
          filename: r.toString('utf8', LAYOUT.exec.filename, LAYOUT.exec.filename + filenameLength), filenameWhole: true,
        };
      }
      case RECORD.file:
        return this.file(r, ns);
      case RECORD.tier:
        return { type: 'unparsed', reason: 'a TIER record is not an event (push() keeps it in `tier`)' };
      default:
        return { type: 'unparsed', reason: `unknown record type ${type}` };
    }
  }

  private readTier(r: Buffer): TierInfo | BpfParseFailure {
    if (r.length < LAYOUT.tier.reason) return { type: 'unparsed', reason: `short TIER record (${r.length} bytes)` };
    const tier = r.readUInt8(16);
    const hooks = HOOKS_STATES[r.readUInt8(17)];
    const reasonLength = r.readUInt16LE(18);
    if (tier !== 1) return { type: 'unparsed', reason: `unknown tier ${tier}` };
    if (hooks === undefined) return { type: 'unparsed', reason: `unknown security-hook state ${r.readUInt8(17)}` };
    if (LAYOUT.tier.reason + reasonLength > r.length) return { type: 'unparsed', reason: 'TIER reason past the record' };
    return { tier: 'tracepoints', hooks, error: r.readInt32LE(20), reason: r.toString('utf8', LAYOUT.tier.reason, LAYOUT.tier.reason + reasonLength) };
  }

  private file(r: Buffer, ns: bigint): FileRecord | BpfParseFailure {
    if (r.length < LAYOUT.file.data) return { type: 'unparsed', reason: `short FILE record (${r.length} bytes)` };
    const kind = r.readUInt16LE(32);
    const compat = r.readUInt8(34) !== 0;
    const rk = String.fromCharCode(r.readUInt8(35));
    const depth = r.readInt8(36);
    const flags = r.readUInt8(37);
    const pathLength = r.readUInt16LE(38);
    const namesLength = r.readUInt16LE(46);
    const name = CALLS[kind];
    if (name === undefined || name === '') return { type: 'unparsed', reason: `unknown call kind ${kind}` };
    if (rk !== 'o' && rk !== 'b' && rk !== '-') return { type: 'unparsed', reason: 'bad FILE resolution kind' };
    const pathAt = LAYOUT.file.data + namesLength;
    if (pathAt + pathLength > r.length) return { type: 'unparsed', reason: 'FILE path past the record' };
    const names = depth < 0 ? [] : packedStrings(r.subarray(LAYOUT.file.data, pathAt)).slice(0, LAYOUT.maxNames);
    if (depth >= 0 && names.length !== Math.min(depth, LAYOUT.maxNames)) return { type: 'unparsed', reason: `FILE names (${names.length}) do not match its depth (${depth})` };
    return {
      type: 'file', ns, syscall: compat ? `i386:${name}` : name, tgid: r.readUInt32LE(16), execId: r.readUInt32LE(20), startNs: r.readBigUInt64LE(24),
      dfd: r.readInt32LE(40), arg: Number(r.readBigUInt64LE(48) & 0xffffffffn), ret: Number(r.readBigInt64LE(56)), why: r.readUInt16LE(44),
      path: r.toString('utf8', pathAt, pathAt + pathLength), resolvedKind: rk,
      // Deeper than the walk goes: the names are not the whole path (no complete path can be made from them).
      depth: (flags & FILE_FLAG.deep) !== 0 ? LAYOUT.maxNames + 1 : depth, names,
      pathWhole: (flags & FILE_FLAG.pathUnread) === 0, resultUnknown: (flags & FILE_FLAG.resultUnknown) !== 0,
    };
  }
}
