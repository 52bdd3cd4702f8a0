// A YAML file parsed with positions, so every problem found later (by the schema or by a
// semantic check) can be reported at the file, line and column it comes from. Linear in the
// size of the document (duplicate keys are found with a set per mapping, positions through
// an index per mapping), and bounded: a document with more than MAX_DOCUMENT_NODES keys and
// list items is refused with one diagnostic before anything else looks at it.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Diagnostic } from '../model/diagnostic.ts';

export type DocumentPath = readonly (string | number)[];

/**
 * Keys and list items a document may have. A recipe has about a hundred; a configuration with
 * a thousand exceptions under ten thousand. Loading is linear, but a reload must stay short.
 */
export const MAX_DOCUMENT_NODES = 50_000;

export interface YamlDocument {
  readonly file: string;
  /** The plain data (objects, arrays, strings, numbers...), or undefined when the YAML is broken. */
  readonly value: unknown;
  readonly diagnostics: readonly Diagnostic[];
  /** 1-based line and column of the value at `path` (or of its key with `at: 'key'`); the nearest existing parent otherwise. */
  position(path: DocumentPath, at?: 'key' | 'value'): { line: number; column: number };
}

export function parseYamlDocument(text: string, file: string): YamlDocument {
  const lineCounter = new LineCounter();
  // uniqueKeys: false. The library's own check compares each key with every earlier key of its
  // mapping (quadratic: 24,000 keys took 47 s); duplicateKeys() below does it with a set.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false });
  const diagnostics: Diagnostic[] = [];
  const where = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const positions = new PositionIndex(doc);
  const located = (): YamlDocument => ({
    file,
    value,
    diagnostics,
    position(path, at = 'value') {
      return where(positions.offsetOf(path, at));
    },
  });
  let value: unknown;
  for (const e of doc.errors) {
    const message = e.message.split('\n')[0] ?? e.message;
    diagnostics.push({ severity: 'error', code: 'yaml-syntax', file, ...where(e.pos[0]), message: message.replace(/ at line \d+, column \d+:?$/, '') });
  }
  for (const w of doc.warnings) {
    const message = w.message.split('\n')[0] ?? w.message;
    diagnostics.push({ severity: 'warning', code: 'yaml-warning', file, ...where(w.pos[0]), message: message.replace(/ at line \d+, column \d+:?$/, '') });
  }
  const nodes = countNodes(doc);
  if (nodes > MAX_DOCUMENT_NODES) {
    diagnostics.push({
      severity: 'error', code: 'too-large', file, line: 1, column: 1,
      message: `the document has ${String(nodes)} keys and list items; at most ${String(MAX_DOCUMENT_NODES)} are read`,
      hint: 'a recipe has about a hundred and a configuration rarely a few thousand: split it, or check that this is the file meant',
    });
    return located();
  }
  for (const offset of duplicateKeys(doc)) {
    diagnostics.push({ severity: 'error', code: 'duplicate-key', file, ...where(offset), message: 'Map keys must be unique' });
  }
  if (diagnostics.every((d) => d.severity !== 'error')) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias to an anchor that is not there, or an alias bomb: reported, never thrown.
      diagnostics.push({ severity: 'error', code: 'yaml-syntax', file, ...where(doc.contents?.range[0] ?? 0), message: (error as Error).message });
    }
  }
  return located();
}

/** Keys of mappings and items of sequences, in the whole document. */
function countNodes(doc: Document): number {
  let n = 0;
  visit(doc, {
    Pair: () => { n++; },
    Seq: (_key, seq) => { n += seq.items.length; },
  });
  return n;
}

/**
 * Where a mapping repeats a key, as the library's check would say it (same node, or scalars
 * with the same value), in one pass per mapping.
 */
function duplicateKeys(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map: (_key, map) => {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k: unknown = pair.key;
        const value = isScalar(k) ? k.value : k;
        // NaN never equals itself (the library's === check): never a duplicate.
        if (typeof value === 'number' && Number.isNaN(value)) continue;
        if (seen.has(value)) offsets.push(rangeStart(k) ?? rangeStart(map) ?? 0);
        else seen.add(value);
      }
    },
  });
  return offsets.sort((a, b) => a - b);
}

/** Finds the node at a path; each mapping's keys are indexed once, when first asked. */
class PositionIndex {
  private readonly keys = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(private readonly doc: Document) {}

  offsetOf(path: DocumentPath, at: 'key' | 'value'): number {
    let node: unknown = this.doc.contents;
    let keyOffset: number | undefined;
    let lastGood = rangeStart(node) ?? 0;
    for (const segment of path) {
      keyOffset = undefined;
      if (isMap(node)) {
        const pair = this.pairOf(node, String(segment));
        if (pair === undefined) return lastGood;
        keyOffset = rangeStart(pair.key);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
      } else {
        return lastGood;
      }
      const start = rangeStart(node) ?? keyOffset;
      if (start === undefined) return lastGood;
      lastGood = at === 'key' && keyOffset !== undefined ? keyOffset : start;
    }
    return at === 'key' && keyOffset !== undefined ? keyOffset : lastGood;
  }

  /** The first pair whose scalar key reads as `key`. */
  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let index = this.keys.get(map);
    if (index === undefined) {
      index = new Map();
      for (const p of map.items) {
        if (!isPair(p) || !isScalar(p.key)) continue;
        const name = String(p.key.value);
        if (!index.has(name)) index.set(name, p);
      }
      this.keys.set(map, index);
    }
    return index.get(key);
  }
}

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as Node).range;
  return range?.[0];
}
