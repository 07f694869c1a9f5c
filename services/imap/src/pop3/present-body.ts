import type { Pop3Message } from './pop3-session.js';

/** The -ERR text for a message whose body is gone. */
export const GONE = 'Message was removed by another session';

/**
 * A message's bytes for RETR or TOP, or undefined when its body is gone: another session (IMAP)
 * expunged the message and the body was collected since this session listed it. The first bytes are
 * read before the +OK, so a client never gets +OK and fewer octets than announced.
 */
export async function presentBody(
  message: Pop3Message,
  source: AsyncIterable<Buffer>,
): Promise<AsyncIterable<Buffer> | undefined> {
  if (message.size === 0) return source;
  const reader = source[Symbol.asyncIterator]();
  let first = await reader.next();
  while (!first.done && first.value.length === 0) first = await reader.next();
  if (first.done) return undefined;
  const head = first.value;
  return (async function* () {
    yield head;
    for (let next = await reader.next(); !next.done; next = await reader.next()) yield next.value;
  })();
}
