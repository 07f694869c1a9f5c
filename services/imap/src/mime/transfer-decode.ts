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

function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    const a = bytes[i + 1];
    const b = bytes[i + 2];
    if (a === 0x0d && b === 0x0a) {
      i += 2;
    } else if (a === 0x0a) {
      i += 1;
    } else if (a !== undefined && b !== undefined && /^[0-9A-Fa-f]{2}$/.test(String.fromCharCode(a, b))) {
      out[n++] = Number.parseInt(String.fromCharCode(a, b), 16);
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}
