export {
  buildQuarantineDigest,
  type DigestEntry,
  type DigestInput,
  type DigestOptions,
  type DigestSchedule,
  digestPeriodEnd,
  digestSpoolId,
  expireQuarantineDigests,
  type SentDigest,
  sendQuarantineDigests,
} from './digest.js';
export { QuarantineNotFoundError } from './errors.js';
export { imapActions } from './imap-action-names.js';
export { processUserActions, type UserActionOptions, type UserActionOutcome } from './imap-actions.js';
export { buildQuarantineNotice, type NoticeInput } from './notice.js';
export {
  type AuditEntry,
  auditOf,
  deleteQuarantined,
  expireQuarantine,
  listQuarantine,
  noticeSpoolId,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineOptions,
  quarantineMessage,
  type ReleaseScope,
  recipientReleaseSpoolId,
  refuseUserRelease,
  releaseQuarantined,
  releaseSpoolId,
  showQuarantined,
  userMayRelease,
} from './store.js';
