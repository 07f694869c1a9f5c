import { Counter, type Registry } from 'prom-client';

export interface ReportMetrics {
  /** Report files stored, by kind and reporting organisation. */
  reports: Counter<'kind' | 'org'>;
  /** Messages of stored DMARC reports by reporting organisation, DMARC result and disposition. */
  dmarcMessages: Counter<'org' | 'result' | 'disposition'>;
  /** Sessions of stored TLS reports by reporting organisation and result (successful or the result type). */
  tlsSessions: Counter<'org' | 'result'>;
  /** Report parts (or messages) that could not be read, by kind and reason. */
  failures: Counter<'kind' | 'reason'>;
}

export function createReportMetrics(registry: Registry): ReportMetrics {
  return {
    reports: new Counter({
      name: 'hermod_received_reports_total',
      help: 'DMARC aggregate and TLS-RPT reports received at our rua addresses and stored',
      labelNames: ['kind', 'org'],
      registers: [registry],
    }),
    dmarcMessages: new Counter({
      name: 'hermod_received_dmarc_messages_total',
      help: 'Messages counted by received DMARC aggregate reports, by reporting organisation, DMARC result and disposition',
      labelNames: ['org', 'result', 'disposition'],
      registers: [registry],
    }),
    tlsSessions: new Counter({
      name: 'hermod_received_tlsrpt_sessions_total',
      help: 'TLS sessions counted by received TLS-RPT reports, by reporting organisation and result type',
      labelNames: ['org', 'result'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'hermod_received_report_failures_total',
      help: 'Received reports that could not be read (the message is delivered all the same), by kind and reason',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
  };
}
