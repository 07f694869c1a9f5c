import type { Pool } from '@hermod/db';
import { runDmarcReportPass, type TxtLookup } from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';
import { PeriodicPass } from '@hermod/spool';
import { Counter, type Registry } from 'prom-client';
import { type DsnSender, injectLocalMessage } from '../dsn/send-dsn.js';

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
  const sent = new Counter({
    name: 'hermod_dmarc_reports_total',
    help: 'DMARC aggregate reports: built (one per domain and period), sent (one per rua address), unauthorised (rua refused by the _report._dmarc check)',
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const pass = new PeriodicPass(
    async () => {
      const result = await runDmarcReportPass({
        pool: options.pool,
        resolveTxt: options.resolveTxt,
        inject: async (key, message) => {
          await injectLocalMessage(options.injector, key, message);
        },
        orgName: options.orgName,
        from: options.from,
        periodSeconds: Math.max(1, Math.round(options.periodMs / 1000)),
      });
      sent.inc({ outcome: 'built' }, result.reports);
      sent.inc({ outcome: 'sent' }, result.sent);
      sent.inc({ outcome: 'unauthorised' }, result.unauthorised);
      if (result.reports > 0) options.logger.info(result, 'DMARC aggregate reports sent');
    },
    options.intervalMs,
    (error) => options.logger.warn({ err: error }, 'DMARC report pass failed'),
  );
  pass.start();
  return pass;
}
