// Splits a byte stream into text lines without ever holding more than one line (capped) in memory.

import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private overlong = false;
  /** Lines dropped because they exceeded the cap. */
  dropped = 0;

  constructor(private readonly maxLineLength: number) {}

  /** Calls `onLine` for every complete line in `chunk`. */
  push(chunk: Buffer, onLine: (line: string) => void): void {
    const text = this.decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.overlong) {
        this.overlong = false;
        this.partial = '';
        continue;
      }
      const line = this.partial.length > 0 ? this.partial + piece : piece;
      this.partial = '';
      if (line.length > this.maxLineLength) this.dropped++;
      else onLine(line);
    }
    if (this.overlong) return;
    this.partial += text.slice(start);
    if (this.partial.length > this.maxLineLength) {
      this.dropped++;
      this.overlong = true;
      this.partial = '';
    }
  }

  /** What is left after the last newline (a cut last line), if anything. */
  end(): string | undefined {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return this.overlong || rest.length === 0 ? undefined : rest;
  }
}
