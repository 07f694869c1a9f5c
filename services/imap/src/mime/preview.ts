import type { MimeNode } from './parse-mime.js';
import { decodePartText } from './part-text.js';

/** RFC 8970 3.1: a preview is at most 256 characters. */
export const PREVIEW_CHARS = 256;
/** How much of a part is read to make a preview (enough for 256 characters of text in any encoding). */
export const PREVIEW_SOURCE_BYTES = 16 * 1024;

const inline = (n: MimeNode) => n.disposition?.value.toLowerCase() !== 'attachment';

/**
 * The part a preview is made from: the first inline text/plain or text/html part, depth first,
 * preferring text/plain inside multipart/alternative; attached messages are not looked into.
 */
export function previewPart(node: MimeNode): MimeNode | undefined {
  if (node.children) {
    const children = node.children.filter(inline);
    if (node.subtype.toLowerCase() === 'alternative') {
      const plain = children.find((c) => c.type === 'text' && c.subtype.toLowerCase() === 'plain');
      if (plain) return plain;
    }
    for (const child of children) {
      const found = previewPart(child);
      if (found) return found;
    }
    return undefined;
  }
  if (node.message || node.type.toLowerCase() !== 'text' || !inline(node)) return undefined;
  return ['plain', 'html'].includes(node.subtype.toLowerCase()) ? node : undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlText(html: string): string {
  return html
    .replace(/<(style|script|head)\b[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
    .replace(/<!--[\s\S]*?(-->|$)/g, ' ')
    .replace(/<[^>]*(>|$)/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    });
}

/**
 * The preview text of a part from the first bytes of its body (RFC 8970 3.1): transfer and charset
 * decoded, HTML reduced to its text, every run of whitespace and control characters one space, no
 * leading or trailing space, at most 256 characters (not cut inside a surrogate pair).
 */
export function previewText(part: MimeNode, body: Buffer): string {
  let text = decodePartText(part, body);
  if (text === undefined) return '';
  if (part.subtype.toLowerCase() === 'html') text = htmlText(text);
  const clean = text.replace(/[\s\p{Cc}\u200b\ufeff\ufffd]+/gu, ' ').trim();
  return Array.from(clean).slice(0, PREVIEW_CHARS).join('').trimEnd();
}
