/**
 * Drops Authentication-Results fields that claim our authserv-id (RFC 8601 §5): only we may speak
 * for it, so such a field from outside is a forgery. The header block is inspected up to maxHeader
 * bytes; whatever lies beyond streams through untouched.
 */
export async function* stripForgedResults(
  source: AsyncIterable<Buffer>,
  authservId: string,
  maxHeader = 256 * 1024,
): AsyncGenerator<Buffer> {
  const ours = authservId.toLowerCase();
  let pending: Buffer[] = [];
  let length = 0;
  let inHeader = true;
  for await (const chunk of source) {
    if (!inHeader) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    length += chunk.length;
    const joined = Buffer.concat(pending, length);
    const end = joined.indexOf('\r\n\r\n');
    if (end === -1 && length <= maxHeader) {
      pending = [joined];
      continue;
    }
    inHeader = false;
    pending = [];
    const headerEnd = end === -1 ? joined.length : end + 2;
    yield filterHeader(joined.subarray(0, headerEnd), ours);
    if (headerEnd < joined.length) yield joined.subarray(headerEnd);
  }
  if (inHeader && pending.length > 0) yield filterHeader(Buffer.concat(pending, length), ours);
}

function filterHeader(header: Buffer, ours: string): Buffer {
  const text = header.toString('latin1');
  // Split into fields: a line starting with white space continues the previous one.
  const fields = text.split(/(?<=\r\n)(?![ \t])/);
  const kept = fields.filter((field) => {
    const match = /^authentication-results[ \t]*:[ \t\r\n]*([^;\s]+)/i.exec(field);
    return !match || match[1]?.toLowerCase() !== ours;
  });
  return kept.length === fields.length ? header : Buffer.from(kept.join(''), 'latin1');
}
