const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');

/**
 * Octets a stored message has on the POP3 wire (RFC 1939 11): every line ends in CRLF, so each LF
 * not preceded by CR (a message an IMAP APPEND stored with bare LF) counts one more. The count
 * LIST and STAT give is exactly what RETR sends before byte-stuffing.
 */
export async function crlfSize(source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<number> {
  let size = 0;
  let previous = 0;
  for await (const chunk of source) {
    size += chunk.length;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1))
      if ((i > 0 ? chunk[i - 1] : previous) !== CR) size++;
    if (chunk.length > 0) previous = chunk[chunk.length - 1]!;
  }
  return size;
}

/**
 * A message stream as a POP3 multi-line response (RFC 1939 3): bare LF line ends become CRLF (as
 * crlfSize counts them), a line starting with '.' gets one more, and CRLF.CRLF ends it.
 */
export async function* dotStuff(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let atLineStart = true;
  let previous = LF;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (atLineStart && byte === DOT) {
        parts.push(chunk.subarray(start, i), Buffer.from('.'));
        start = i;
      } else if (byte === LF && (i > 0 ? chunk[i - 1] : previous) !== CR) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
      atLineStart = byte === LF;
    }
    parts.push(chunk.subarray(start));
    previous = chunk[chunk.length - 1]!;
    yield Buffer.concat(parts);
  }
  yield Buffer.from(previous === LF ? '.\r\n' : '\r\n.\r\n');
}
