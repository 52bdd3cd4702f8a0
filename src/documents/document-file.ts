// Reading a user's YAML file: only a regular file (a FIFO named *.yaml would block a reload
// forever) and at most 1 MiB (a recipe or a configuration is a few kilobytes).

import { closeSync, fstatSync, openSync, readFileSync, constants } from 'node:fs';

const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** The file's text, or why it cannot be used. */
export function readDocumentFile(path: string): { text: string } | { error: string } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return { error: (error as Error).message };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: 'not a regular file' };
    if (st.size > MAX_DOCUMENT_BYTES) return { error: `larger than ${String(MAX_DOCUMENT_BYTES)} bytes (${String(st.size)})` };
    return { text: readFileSync(fd, 'utf8') };
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    closeSync(fd);
  }
}
