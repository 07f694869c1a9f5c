/**
 * OBJECTID (RFC 8474): object identifiers of mailboxes and messages. Both come from database keys
 * that are never reused (bigserial): a mailbox's row id (kept by RENAME, new after DELETE + CREATE),
 * and a message's stored body (shared by COPY and MOVE, so copies keep their EMAILID).
 */
export const mailboxObjectId = (mailboxId: number) => `M${mailboxId}`;
export const emailObjectId = (bodyId: number) => `E${bodyId}`;

/** objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474 section 7). */
export const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;
