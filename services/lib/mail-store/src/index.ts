export {
  type AppendInput,
  type AppendResult,
  appendManyToMailbox,
  appendSmallMessage,
  appendToMailbox,
} from './append.js';
export { BODY_CHUNK_SIZE, readBodies, readBody, type StoredBody, writeBody } from './bodies.js';
export {
  loadBodyStructure,
  loadBodyStructures,
  readBodyPrefixes,
  readBodyRange,
  saveBodyStructure,
} from './body-range.js';
export {
  accountQuota,
  accountUsage,
  createMailbox,
  deleteMailbox,
  findMailbox,
  listMailboxes,
  listMailboxesOf,
  listSubscriptions,
  MailboxError,
  type MailboxInfo,
  type MailboxStatus,
  mailboxStatus,
  mailboxStatusByName,
  renameMailbox,
  setSubscribed,
} from './mailbox-admin.js';
export {
  type CopyResult,
  changesSince,
  copyMessages,
  expungedSince,
  expungeMessages,
  type FlagOperation,
  type FlagUpdate,
  loadSnapshot,
  type MailboxChange,
  type MailboxSnapshot,
  type MessageMeta,
  messagesByUid,
  moveMessages,
  nextModseq,
  type OpenedMailbox,
  openMailbox,
  removeMessages,
  storeFlags,
  syncChanges,
  updateFlags,
} from './mailbox-messages.js';
export { isValidMailboxName, MAILBOX_SEPARATOR, MAX_MAILBOX_NAME_LENGTH } from './mailbox-name.js';
export { createDefaultMailboxes, defaultMailboxes, type MailboxRef, resolveMailbox } from './mailboxes.js';
export {
  getMetadata,
  type MetadataDepth,
  type MetadataEntry,
  MetadataLimitError,
  setMetadata,
} from './metadata.js';
