export { type AggregateReport, aggregateReportXml } from './aggregate-xml.js';
export { type DmarcRecord, parseDmarcRecord, ruaAuthorised, type TxtLookup } from './dmarc-record.js';
export { type DmarcPassResult, type DmarcReporterDeps, runDmarcReportPass } from './report-job.js';
export { dmarcReportMessage, type ReportMessageInput } from './report-message.js';
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
