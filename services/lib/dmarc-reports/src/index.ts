export { type AggregateReport, aggregateReportXml, reportSourceIp } from './aggregate-xml.js';
export {
  type DmarcRecord,
  parseDmarcRecord,
  publishedTexts,
  ruaAuthorised,
  type TxtLookup,
} from './dmarc-record.js';
export {
  type ExaminedMessage,
  examineMessage,
  type FoundReport,
  type ReportFailure,
} from './received/find-reports.js';
export { parseAggregateReport } from './received/parse-aggregate.js';
export { parseTlsReport } from './received/parse-tlsrpt.js';
export {
  listReceivedReports,
  type ReceivedReportDetail,
  type ReceivedReportFilter,
  type ReceivedReportSummary,
  showReceivedReport,
  storeReceivedReports,
} from './received/store.js';
export {
  defaultReportLimits,
  type ReceivedRecord,
  type ReceivedReport,
  type ReportFailureReason,
  type ReportLimits,
  ReportParseError,
} from './received/types.js';
export { unpackReport } from './received/unpack.js';
export { type DmarcPassResult, type DmarcReporterDeps, runDmarcReportPass } from './report-job.js';
export { dmarcReportMessage, type ReportMessageInput } from './report-message.js';
export { periodStart, type ReportPassResult, runReportPass } from './report-pass.js';
export {
  type AggregateData,
  type AggregateRow,
  type DmarcEvaluation,
  type DueReport,
  deleteDmarcEvaluations,
  dueDmarcReports,
  loadDmarcAggregate,
  recordDmarcEvaluations,
} from './store.js';
export { runTlsReportPass, type TlsReporterDeps } from './tlsrpt-job.js';
export { type TlsReportInput, tlsReportJson } from './tlsrpt-json.js';
export { type TlsReportMessageInput, tlsReportMessage } from './tlsrpt-message.js';
export { currentTlsRptRecord, parseTlsRptRecord } from './tlsrpt-record.js';
export {
  type DueTlsReport,
  dueTlsReports,
  loadTlsReport,
  recordTlsSessions,
  type TlsPolicyCounts,
  type TlsPolicyDescription,
  type TlsSessionCount,
} from './tlsrpt-store.js';
