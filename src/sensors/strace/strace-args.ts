// Tokenizing strace's argument lists: top-level split on ", " that respects quotes, brackets
// and -yy fd annotations, plus decoders for the argument shapes the sensor needs.

import type { FdRef } from '../../model/sensor-event.ts';
import { unescapeCString } from '../c-string.ts';

/**
 * Index just past the annotation that opens at `start` (which holds '<'), or -1 if it never
 * closes. Annotations nest (`</dev/null<char 1:3>>`) and may hold brackets with '->' inside
 * (`<TCP:[1.2.3.4:5->6.7.8.9:10]>`); a literal '<' or '>' in a path is escaped by strace.
 */
export function skipAnnotation(text: string, start: number): number {
  let depth = 0;
  let square = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      i++;
    } else if (c === 0x5b /* [ */) {
      square++;
    } else if (c === 0x5d /* ] */) {
      if (square > 0) square--;
    } else if (square === 0 && c === 0x3c /* < */) {
      depth++;
    } else if (square === 0 && c === 0x3e /* > */) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Index just past the string literal opening at `start` (a '"'), or -1 if it never closes. */
export function skipString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/**
 * Scans from `start` to the ')' that closes the argument list at depth 0, collecting the
 * top-level arguments. Returns the arguments and the index of that ')', or undefined when the
 * text is not balanced.
 */
export function scanArgs(text: string, start: number): { args: string[]; end: number } | undefined {
  const args: string[] = [];
  let depth = 0;
  let argStart = start;
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const next = skipString(text, i);
      if (next < 0) return undefined;
      i = next;
      continue;
    }
    if (c === 0x3c && i > start && isWordChar(text.charCodeAt(i - 1))) {
      const next = skipAnnotation(text, i);
      if (next < 0) return undefined;
      i = next;
      continue;
    }
    if (c === 0x28 || c === 0x5b || c === 0x7b) {
      depth++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x29) {
      if (depth === 0) {
        const last = text.slice(argStart, i).trim();
        if (last.length > 0 || args.length > 0) args.push(last);
        return { args, end: i };
      }
      depth--;
    } else if (c === 0x2c && depth === 0) {
      args.push(text.slice(argStart, i).trim());
      argStart = i + 1;
    }
    i++;
  }
  return undefined;
}

/** A decoded string argument: `"abc"` or `"abc"...` (cut at -s). Undefined for anything else (NULL, an address). */
export function decodeStringArg(arg: string | undefined): { value: string; truncated: boolean } | undefined {
  if (arg === undefined || arg.charCodeAt(0) !== 0x22) return undefined;
  const end = skipString(arg, 0);
  if (end < 0) return undefined;
  return { value: unescapeCString(arg.slice(1, end - 1)), truncated: arg.startsWith('...', end) };
}

/** Splits `3</proc/sys/net>` or `AT_FDCWD</tmp>` or a bare number. */
export function decodeFdArg(arg: string | undefined): FdRef | undefined {
  if (arg === undefined) return undefined;
  const lt = arg.indexOf('<');
  const head = lt < 0 ? arg : arg.slice(0, lt);
  let fd: number | 'AT_FDCWD';
  if (head === 'AT_FDCWD') fd = 'AT_FDCWD';
  else if (/^-?\d+$/.test(head)) fd = Number(head);
  else return undefined;
  if (lt < 0) return { fd };
  const path = decodeAnnotationPath(arg.slice(lt));
  return path === undefined ? { fd } : { fd, path };
}

/**
 * The filesystem path inside an fd annotation such as `</proc/sys/net>`, without a device
 * suffix (`</dev/null<char 1:3>>`) or " (deleted)". Undefined for pipes, sockets and anon inodes.
 */
export function decodeAnnotationPath(annotation: string): string | undefined {
  if (annotation.charCodeAt(0) !== 0x3c || annotation.charCodeAt(1) !== 0x2f /* / */) return undefined;
  const end = skipAnnotation(annotation, 0);
  if (end < 0) return undefined;
  let body = annotation.slice(1, end - 1);
  const nested = body.indexOf('<');
  if (nested >= 0) body = body.slice(0, nested);
  if (body.endsWith(' (deleted)')) body = body.slice(0, -' (deleted)'.length);
  return unescapeCString(body);
}

/** Decodes a string array argument `["a", "b"...]` (argv). */
export function decodeStringArray(arg: string | undefined): { values: string[]; truncated: boolean } | undefined {
  if (arg?.charCodeAt(0) !== 0x5b) return undefined;
  const values: string[] = [];
  let truncated = false;
  let i = 1;
  while (i < arg.length) {
    const c = arg.charCodeAt(i);
    if (c === 0x22) {
      const end = skipString(arg, i);
      if (end < 0) return undefined;
      values.push(unescapeCString(arg.slice(i + 1, end - 1)));
      if (arg.startsWith('...', end)) {
        truncated = true;
        i = end + 3;
      } else {
        i = end;
      }
    } else if (c === 0x5d) {
      return { values, truncated };
    } else if (c === 0x2e && arg.startsWith('...', i)) {
      truncated = true;
      i += 3;
    } else {
      i++;
    }
  }
  return undefined;
}
