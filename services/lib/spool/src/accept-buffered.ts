import type { Pool } from '@hermod/db';
import { type AcceptInput, acceptMessage } from './accept.js';
import { insertSmallMessages, SMALL_MESSAGE_LIMIT } from './accept-batch.js';

/**
 * acceptMessage for a message already in memory: a small one (the common case) is made durable with
 * one statement, so the accept costs one round trip and one commit; a larger one takes the chunked path.
 */
export async function acceptBufferedMessage(
  pool: Pool,
  input: Omit<AcceptInput, 'body'> & { body: Buffer },
): Promise<{ spoolId: string; size: number }> {
  if (input.body.length <= SMALL_MESSAGE_LIMIT) {
    const [spoolId] = await insertSmallMessages(pool, [input]);
    return { spoolId: spoolId!, size: input.body.length };
  }
  return acceptMessage(pool, { ...input, body: [input.body] });
}
