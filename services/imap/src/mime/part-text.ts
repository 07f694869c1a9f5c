import type { MimeNode } from './parse-mime.js';
import { decodeTransfer } from './transfer-decode.js';

/**
 * A text part's body as text: its Content-Transfer-Encoding undone and its charset converted
 * (us-ascii read as UTF-8, an unknown charset as UTF-8). Undefined when the transfer encoding is
 * unknown. What PREVIEW shows and SEARCH compares.
 */
export function decodePartText(part: MimeNode, body: Buffer): string | undefined {
  let bytes: Buffer;
  try {
    bytes = decodeTransfer(body, part.encoding);
  } catch {
    return undefined;
  }
  const charset = part.params.find(([k]) => k.toLowerCase() === 'charset')?.[1] ?? 'us-ascii';
  try {
    return new TextDecoder(charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}
