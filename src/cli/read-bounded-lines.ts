// Reading a file of text lines of any size with bounded memory: one line at a time, each at
// most a given number of bytes. A longer line is reported by its number and skipped; the lines
// after it still come. Only a regular file is read (a FIFO would block until someone writes).

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A line (1-based number, text without its newline), or one that was too long (its length in bytes). */
export type BoundedLine =
  | { readonly line: number; readonly text: string }
  | { readonly line: number; readonly tooLong: number };

/** The file cannot be read at all (missing, not a regular file, no permission). */
export class LineFileError extends Error {
  override readonly name = 'LineFileError';
}

const CHUNK_BYTES = 64 * 1024;

/** Why a file cannot be opened, in words, without the path (the caller names it). */
function openProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'not a regular file (a directory)';
  return (error as Error).message;
}

/**
 * The lines of `path`, read in chunks; at most `maxLineBytes` of one line are ever held. A last
 * line without a newline counts. Throws LineFileError when the file cannot be opened or is not
 * a regular file; an error while reading is thrown as it is, after the lines read so far.
 */
export async function* readBoundedLines(path: string, maxLineBytes: number, chunkBytes = CHUNK_BYTES): AsyncGenerator<BoundedLine> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new LineFileError(openProblem(error), { cause: error });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new LineFileError(st.isDirectory() ? 'not a regular file (a directory)' : 'not a regular file');
    const buffer = Buffer.allocUnsafe(chunkBytes);
    let parts: Buffer[] = [];
    let held = 0;
    /** Bytes of the current line when it is over the limit (then nothing of it is held). */
    let overlong = 0;
    let line = 1;
    const finish = (): BoundedLine => {
      const out: BoundedLine = overlong > 0 ? { line, tooLong: overlong } : { line, text: Buffer.concat(parts, held).toString('utf8') };
      parts = [];
      held = 0;
      overlong = 0;
      line++;
      return out;
    };
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      for (let start = 0; start < bytesRead;) {
        const newline = chunk.indexOf(0x0a, start);
        const end = newline < 0 ? bytesRead : newline;
        const length = end - start;
        if (overlong > 0 || held + length > maxLineBytes) {
          overlong = (overlong > 0 ? overlong : held) + length;
          parts = [];
          held = 0;
        } else if (length > 0) {
          // A copy: the buffer is read into again.
          parts.push(Buffer.from(chunk.subarray(start, end)));
          held += length;
        }
        if (newline < 0) break;
        yield finish();
        start = newline + 1;
      }
    }
    if (held > 0 || overlong > 0) yield finish();
  } finally {
    await handle.close();
  }
}
