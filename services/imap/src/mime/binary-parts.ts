import { splitHeaderFields } from './header-fields.js';
import { type MimeNode, parseMime } from './parse-mime.js';
import { decodeTransfer } from './transfer-decode.js';

/** RFC 2045 6.8: encoded lines are at most 76 characters. */
const BASE64_LINE = 76;

/**
 * A message APPENDed as a literal8 (RFC 3516 4.4) may carry parts with Content-Transfer-Encoding
 * binary: octets (NUL among them) that no ordinary literal may hold (RFC 9051 4.3, CHAR8). They are
 * stored base64-encoded, with the header field saying so, as Dovecot does: BODY[] then sends the
 * stored bytes as they are, and BINARY[] decodes them back to the octets the client sent. Only
 * leaves are re-encoded (a multipart or an attached message may not be base64, RFC 2045 6.4);
 * everything else keeps its bytes. Returns the input itself when there is nothing to re-encode.
 */
export function encodeBinaryParts(message: Buffer): Buffer {
  const leaves: MimeNode[] = [];
  const walk = (node: MimeNode) => {
    if (node.children) for (const child of node.children) walk(child);
    else if (node.message) walk(node.message);
    else if (node.type.toLowerCase() !== 'message' && node.encoding.toLowerCase() === 'binary')
      leaves.push(node);
  };
  walk(parseMime(message).root);
  if (leaves.length === 0) return message;
  const pieces: Buffer[] = [];
  let at = 0;
  for (const leaf of leaves) {
    // Parts come in message order and do not overlap; replace the field, then the body.
    const field = splitHeaderFields(message, leaf.headerStart, leaf.bodyStart).find(
      (f) => f.name === 'content-transfer-encoding',
    );
    if (!field) continue;
    pieces.push(message.subarray(at, field.start), Buffer.from('Content-Transfer-Encoding: base64\r\n'));
    pieces.push(
      message.subarray(field.end, leaf.bodyStart),
      base64Lines(message.subarray(leaf.bodyStart, leaf.bodyEnd)),
    );
    at = leaf.bodyEnd;
  }
  pieces.push(message.subarray(at));
  return Buffer.concat(pieces);
}

function base64Lines(octets: Buffer): Buffer {
  const text = octets.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += BASE64_LINE) lines.push(text.slice(i, i + BASE64_LINE));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);

/**
 * BINARY of a whole message or of a multipart or message/rfc822 part (RFC 3516 4.2, answered as
 * Dovecot answers it): the bytes of [start, end) with every leaf inside whose transfer encoding is
 * not an identity decoded - its Content-Transfer-Encoding field dropped, "Content-Transfer-Encoding:
 * binary" added at the end of its header, its body decoded. So a message APPENDed as a literal8
 * comes back as sent from BINARY[] too. Throws UnknownEncodingError for an unknown encoding.
 */
export function decodeEntityParts(message: Buffer, node: MimeNode, start: number, end: number): Buffer {
  const leaves: MimeNode[] = [];
  const walk = (n: MimeNode) => {
    if (n.children) for (const child of n.children) walk(child);
    else if (n.message) walk(n.message);
    else if (n.headerStart >= start && !IDENTITY_ENCODINGS.has(n.encoding.toLowerCase())) leaves.push(n);
  };
  walk(node);
  if (leaves.length === 0) return message.subarray(start, end);
  const pieces: Buffer[] = [];
  let at = start;
  for (const leaf of leaves) {
    const decoded = decodeTransfer(message.subarray(leaf.bodyStart, leaf.bodyEnd), leaf.encoding);
    const blank = message[leaf.bodyStart - 2] === 0x0d ? leaf.bodyStart - 2 : leaf.bodyStart - 1;
    for (const field of splitHeaderFields(message, leaf.headerStart, leaf.bodyStart)) {
      if (field.name !== 'content-transfer-encoding') continue;
      pieces.push(message.subarray(at, field.start));
      at = field.end;
    }
    pieces.push(message.subarray(at, blank), Buffer.from('Content-Transfer-Encoding: binary\r\n'));
    pieces.push(message.subarray(blank, leaf.bodyStart), decoded);
    at = leaf.bodyEnd;
  }
  pieces.push(message.subarray(at, end));
  return Buffer.concat(pieces);
}
