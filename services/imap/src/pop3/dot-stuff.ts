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
