export { writeBody, readBody, BODY_CHUNK_SIZE, type StoredBody } from './bodies.js';
export { createDefaultMailboxes, defaultMailboxes, resolveMailbox, type MailboxRef } from './mailboxes.js';
export { appendToMailbox, type AppendResult, type AppendInput } from './append.js';
