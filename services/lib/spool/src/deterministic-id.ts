import { createHash } from 'node:crypto';

/**
 * A UUID derived from a key, for messages the platform generates itself (DSNs, filter replies): a
 * retried attempt for the same event collides on the spool's primary key instead of duplicating.
 */
export function deterministicUuid(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
