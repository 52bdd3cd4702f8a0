// Decoding of the C string literals strace prints: "\"", "\\", "\n", octal "\342", hex "\xe2".

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  n: 0x0a, t: 0x09, r: 0x0d, v: 0x0b, f: 0x0c, a: 0x07, b: 0x08, e: 0x1b,
  '\\': 0x5c, '"': 0x22, "'": 0x27, '?': 0x3f,
};

function isOctalDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x37;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

/**
 * Turns the body of a strace string literal (without the surrounding quotes) into the string
 * the process used. Escapes stand for bytes, so the result is decoded as UTF-8 (invalid
 * sequences become U+FFFD, as the bytes cannot be a name anyway). Fast path: no backslash.
 */
export function unescapeCString(body: string): string {
  if (!body.includes('\\')) return body;
  const bytes: number[] = [];
  let i = 0;
  const n = body.length;
  while (i < n) {
    const c = body.charCodeAt(i);
    if (c !== 0x5c || i + 1 >= n) {
      pushCodePoint(bytes, body, i);
      i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      continue;
    }
    const next = body[i + 1] ?? '';
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (next === 'x') {
      let value = 0;
      let j = i + 2;
      while (j < n && j < i + 4 && hexValue(body.charCodeAt(j)) >= 0) {
        value = value * 16 + hexValue(body.charCodeAt(j));
        j++;
      }
      if (j === i + 2) {
        bytes.push(0x5c);
        i += 1;
      } else {
        bytes.push(value);
        i = j;
      }
    } else if (isOctalDigit(body.charCodeAt(i + 1))) {
      let value = 0;
      let j = i + 1;
      while (j < n && j < i + 4 && isOctalDigit(body.charCodeAt(j))) {
        value = value * 8 + (body.charCodeAt(j) - 0x30);
        j++;
      }
      bytes.push(value & 0xff);
      i = j;
    } else {
      // Unknown escape: keep the backslash literally.
      bytes.push(0x5c);
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function pushCodePoint(bytes: number[], s: string, i: number): void {
  const c = s.charCodeAt(i);
  if (c < 0x80) {
    bytes.push(c);
    return;
  }
  const cp = s.codePointAt(i) ?? c;
  for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
}
