/** Cuts POP3 input into lines (no literals in POP3); a line over the cap is an error. */
export class LineReader {
  private pending: Buffer[] = [];
  private length = 0;

  constructor(private readonly maxLineLength: number) {}

  /** Complete lines (without CRLF), or 'too-long' once a line exceeds the cap. */
  push(data: Buffer): Array<string | 'too-long'> {
    const out: Array<string | 'too-long'> = [];
    let offset = 0;
    while (offset < data.length) {
      const lf = data.indexOf(0x0a, offset);
      const end = lf < 0 ? data.length : lf;
      if (this.length + (end - offset) > this.maxLineLength) {
        out.push('too-long');
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

/** Dot-stuffs a message stream for a multi-line POP3 response and ends it with CRLF.CRLF. */
export async function* dotStuff(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let atLineStart = true;
  let last = 0x0a;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (atLineStart && chunk[i] === 0x2e) {
        parts.push(chunk.subarray(start, i), Buffer.from('.'));
        start = i;
      }
      atLineStart = chunk[i] === 0x0a;
    }
    parts.push(chunk.subarray(start));
    last = chunk[chunk.length - 1]!;
    yield Buffer.concat(parts);
  }
  yield Buffer.from(last === 0x0a ? '.\r\n' : '\r\n.\r\n');
}
