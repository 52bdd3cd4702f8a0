// A problem found in a user's file (recipe, configuration): where, what, and how to fix it.

import { visible } from './visible.ts';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly severity: Severity;
  /** Stable kebab-case code, e.g. unknown-key, wrong-type, bad-regex, duplicate-id. */
  readonly code: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly message: string;
  readonly hint?: string;
}

/**
 * `file:line:col: error[code]: message` and an indented hint line, as compilers print them.
 * File names, messages and hints quote what the file holds: control characters are shown as
 * escapes, so a crafted file or file name cannot drive the terminal or forge a line.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${visible(d.file)}:${String(d.line)}:${String(d.column)}: ${d.severity}[${visible(d.code)}]: ${visible(d.message)}`;
  return d.hint === undefined ? head : `${head}\n    hint: ${visible(d.hint)}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sorted by file, then position, so a report reads top to bottom. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
