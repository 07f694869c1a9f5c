import type { InputReader } from './connection.js';

/** What LineReader yields once a line exceeds its cap (no line of text can be mistaken for it). */
export const LINE_TOO_LONG: unique symbol = Symbol('line too long');

/** Cuts input into lines without CRLF (POP3 has no literals); a line over the cap is an error. */
export class LineReader implements InputReader<string | typeof LINE_TOO_LONG> {
  private pending: Buffer[] = [];
  private length = 0;

  constructor(private readonly maxLineLength: number) {}

  /** Complete lines, or LINE_TOO_LONG (last) once a line exceeds the cap. */
  push(data: Buffer): Array<string | typeof LINE_TOO_LONG> {
    const out: Array<string | typeof LINE_TOO_LONG> = [];
    let offset = 0;
    while (offset < data.length) {
      const lf = data.indexOf(0x0a, offset);
      const end = lf < 0 ? data.length : lf;
      if (this.length + (end - offset) > this.maxLineLength) {
        out.push(LINE_TOO_LONG);
        return out;
      }
      this.pending.push(data.subarray(offset, end));
      this.length += end - offset;
      if (lf < 0) break;
      out.push(Buffer.concat(this.pending, this.length).toString('utf8').replace(/\r$/, ''));
      this.pending = [];
      this.length = 0;
      offset = lf + 1;
    }
    return out;
  }
}
