import type { MimeNode } from '../mime/parse-mime.js';
import { decodePartText } from '../mime/part-text.js';
import { decodeEncodedWords } from './base-subject.js';

/**
 * What SEARCH BODY and TEXT compare besides the raw message (RFC 3501 6.4.4: content transfer
 * encodings and encoded words in headers are decoded before comparing): the text of every text
 * part, transfer encoding and charset undone, and the headers of encapsulated messages with their
 * encoded words decoded, in message order.
 */
export function decodedBodyText(message: Buffer, node: MimeNode): string {
  const out: string[] = [];
  collect(message, node, out);
  return out.join('\n');
}

/** A header block with its RFC 2047 encoded words decoded. */
export function decodedHeaderText(message: Buffer, start: number, end: number): string {
  return decodeEncodedWords(message.subarray(start, end).toString('utf8'));
}

function collect(message: Buffer, node: MimeNode, out: string[]): void {
  if (node.children) {
    for (const child of node.children) collect(message, child, out);
  } else if (node.message) {
    out.push(decodedHeaderText(message, node.message.headerStart, node.message.bodyStart));
    collect(message, node.message, out);
  } else if (node.type === 'text') {
    const text = decodePartText(node, message.subarray(node.bodyStart, node.bodyEnd));
    if (text !== undefined) out.push(text);
  }
}
