// Making text from files, argv and processes safe to print (terminal, job log, annotation,
// Markdown): every character that could drive a terminal or reorder what a reader sees is
// shown as an escape, never interpreted. The one implementation: outputs/ re-exports it.

/**
 * C0 controls (with CR, LF, TAB), DEL, C1 controls, the bidirectional embeddings, overrides
 * and isolates (U+202A–202E, U+2066–2069), the direction marks (U+200E, U+200F, U+061C) and the
 * Unicode line and paragraph separators (U+2028, U+2029).
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** The text with each such character replaced by `\n`, `\t`, `\r`, `\xNN` or `\uNNNN`: one line, nothing a terminal obeys. */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** The characters above that JSON.stringify leaves as they are (it escapes only U+0000–001F). */
const INVISIBLE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON.stringify, with every character `visible` escapes written as a `\uNNNN` escape: the
 * same JSON value for any parser, and nothing a terminal obeys when the text is printed or
 * a file of it is `cat` or `tail -f`'d (a C1 CSI, U+009B, is a terminal escape in UTF-8 too).
 */
export function visibleJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(INVISIBLE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
