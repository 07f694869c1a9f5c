import type { Pool } from '@hermod/db';
import { runDmarcReportPass, type TxtLookup } from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';
import type { PeriodicPass } from '@hermod/spool';
import type { Registry } from 'prom-client';
import { type DsnSender, injectLocalMessage } from '../dsn/send-dsn.js';
import { startReportJob } from './report-job.js';

/**
 * The DMARC aggregate report job: every interval, ended periods' evaluations (recorded by mx)
 * become reports injected like DSNs, so they leave through the normal outbound queue.
 */
export function startDmarcReporter(options: {
  pool: Pool;
  injector: DsnSender;
  resolveTxt: TxtLookup;
  from: string;
  orgName: string;
  periodMs: number;
  intervalMs: number;
  registry: Registry;
  logger: Logger;
}): PeriodicPass {
  return startReportJob({
    name: 'DMARC aggregate',
    metric: 'hermod_dmarc_reports_total',
    help: 'DMARC aggregate reports: built (one per domain and period), sent (one per rua address), refused (rua not authorised by the _report._dmarc check)',
    pass: () =>
      runDmarcReportPass({
        pool: options.pool,
        resolveTxt: options.resolveTxt,
        inject: async (key, message) => {
          await injectLocalMessage(options.injector, key, message);
        },
        orgName: options.orgName,
        from: options.from,
        periodSeconds: Math.max(1, Math.round(options.periodMs / 1000)),
      }),
    intervalMs: options.intervalMs,
    registry: options.registry,
    logger: options.logger,
  });
}
