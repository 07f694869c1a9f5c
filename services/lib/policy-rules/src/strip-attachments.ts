import { findHeader, flattenParts, type MimePart, parseParams } from '@hermod/sieve/mime';

function noticePart(text: string): string {
  const encoded = Buffer.from(text, 'utf8')
    .toString('base64')
    .replace(/.{76}(?=.)/g, '$&\r\n');
  return (
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Disposition: inline\r\n' +
    'Content-Transfer-Encoding: base64\r\n' +
    `X-Hermod-Removed-Attachment: yes\r\n\r\n${encoded}\r\n`
  );
}

const headerBlock = (part: MimePart) => part.headers.map((h) => `${h.name}:${h.raw}\r\n`).join('');

/**
 * The message with the given parts (indices in flattenParts order) replaced by a text/plain
 * notice ({name} is the removed file's name). Parts with nothing removed below them are copied
 * byte for byte; the multiparts above a removed part are written again (preamble and epilogue
 * dropped). Bytes in and out are latin1 strings of the raw message.
 */
export function stripAttachments(
  root: MimePart,
  parts: readonly number[],
  notice: string,
  nameOf: (part: number) => string,
): Buffer {
  const index = new Map(flattenParts(root).map((p, i) => [p, i] as const));
  const removed = new Set(parts);
  const touched = new Set<MimePart>();
  for (const [part, i] of index) {
    if (!removed.has(i)) continue;
    for (let p: MimePart | null = part; p; p = p.parent) touched.add(p);
  }
  const write = (part: MimePart): string => {
    const i = index.get(part)!;
    if (removed.has(i)) {
      const text = notice.replaceAll('{name}', nameOf(i) || 'unnamed');
      if (part.parent === null) {
        // The whole message is the attachment: keep its header fields but the content ones.
        const kept = part.headers.filter((h) => !/^content-/i.test(h.name));
        return `${kept.map((h) => `${h.name}:${h.raw}\r\n`).join('')}MIME-Version: 1.0\r\n${noticePart(text)}`;
      }
      return noticePart(text);
    }
    if (!touched.has(part)) return part.whole;
    if (part.contentType === 'message/rfc822' && part.children[0]) {
      return `${headerBlock(part)}\r\n${write(part.children[0])}`;
    }
    const ct = findHeader(part.headers, 'content-type') ?? '';
    const boundary = parseParams(ct).params.boundary ?? part.params.boundary ?? '';
    let out = `${headerBlock(part)}\r\n`;
    for (const child of part.children) out += `--${boundary}\r\n${write(child)}\r\n`;
    return `${out}--${boundary}--\r\n`;
  };
  return Buffer.from(write(root), 'latin1');
}
