export { QuarantineNotFoundError } from './errors.js';
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
  releaseQuarantined,
  releaseSpoolId,
  showQuarantined,
} from './store.js';
