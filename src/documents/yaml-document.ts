// A YAML file parsed with positions, so every problem found later (by the schema or by a
// semantic check) can be reported at the file, line and column it comes from.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../model/diagnostic.ts';

export type DocumentPath = readonly (string | number)[];

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
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const where = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  for (const e of doc.errors) {
    const message = e.message.split('\n')[0] ?? e.message;
    diagnostics.push({
      severity: 'error', code: e.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax', file, ...where(e.pos[0]),
      message: message.replace(/ at line \d+, column \d+:?$/, ''),
    });
  }
  for (const w of doc.warnings) {
    const message = w.message.split('\n')[0] ?? w.message;
    diagnostics.push({ severity: 'warning', code: 'yaml-warning', file, ...where(w.pos[0]), message: message.replace(/ at line \d+, column \d+:?$/, '') });
  }
  let value: unknown;
  if (doc.errors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias to an anchor that is not there, or an alias bomb: reported, never thrown.
      diagnostics.push({ severity: 'error', code: 'yaml-syntax', file, ...where(doc.contents?.range[0] ?? 0), message: (error as Error).message });
    }
  }
  return {
    file,
    value,
    diagnostics,
    position(path, at = 'value') {
      const offset = offsetOf(doc, path, at);
      return where(offset);
    },
  };
}

function offsetOf(doc: Document, path: DocumentPath, at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let keyOffset: number | undefined;
  let lastGood = rangeStart(node) ?? 0;
  for (const segment of path) {
    keyOffset = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
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

function rangeStart(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as Node).range;
  return range?.[0];
}
