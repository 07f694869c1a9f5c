export { type AppendInput, type AppendResult, appendToMailbox } from './append.js';
export { BODY_CHUNK_SIZE, readBody, type StoredBody, writeBody } from './bodies.js';
export { createDefaultMailboxes, defaultMailboxes, type MailboxRef, resolveMailbox } from './mailboxes.js';
