/** Content-Transfer-Encoding decoding for BINARY fetches (RFC 3516). */

export class UnknownEncodingError extends Error {
  readonly code = 'UNKNOWN_CTE';
}

export function decodeTransfer(bytes: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case '7bit':
    case '8bit':
    case 'binary':
      return bytes;
    case 'base64':
      return Buffer.from(bytes.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(bytes);
    default:
      throw new UnknownEncodingError(`Unknown transfer encoding ${encoding}`);
  }
}

const isHex = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
const isPadding = (c: number) => c === 0x20 || c === 0x09;

/**
 * Quoted-printable per RFC 2045 6.7: whitespace at the end of an encoded line is transport padding
 * and dropped (rule 3); a line ending in "=" (padding allowed after it) is a soft line break and
 * joins the next (rule 5); "=XX" is an octet; any other "=" is kept as it is (robustness, 6.7 note).
 */
export function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  let lineStart = 0;
  while (lineStart < bytes.length) {
    const lf = bytes.indexOf(0x0a, lineStart);
    const next = lf < 0 ? bytes.length : lf + 1;
    let end = lf < 0 ? bytes.length : lf;
    const breakStart = end > lineStart && bytes[end - 1] === 0x0d ? end - 1 : end;
    end = breakStart;
    while (end > lineStart && isPadding(bytes[end - 1]!)) end--;
    // "=XX" never ends in "=", so a final "=" is always a soft line break.
    const soft = end > lineStart && bytes[end - 1] === 0x3d;
    if (soft) end--;
    for (let i = lineStart; i < end; i++) {
      const c = bytes[i]!;
      if (c === 0x3d && i + 2 < end && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
        out[n++] = Number.parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
        i += 2;
      } else out[n++] = c;
    }
    // The line's own break (CRLF or a bare LF) stays, unless it was a soft one.
    if (!soft) for (let i = breakStart; i < next; i++) out[n++] = bytes[i]!;
    lineStart = next;
  }
  return out.subarray(0, n);
}
