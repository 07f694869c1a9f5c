import type { ReportPassResult } from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';
import { PeriodicPass } from '@hermod/spool';
import { Counter, type Registry } from 'prom-client';

/**
 * A report job of this service (DMARC aggregate, TLS-RPT): every interval, one pass of the shared
 * report rule; its outcome counted in `<metric>{outcome=built|sent|refused}` and logged.
 */
export function startReportJob(options: {
  /** For logs: "DMARC aggregate", "TLS". */
  name: string;
  metric: string;
  help: string;
  pass: () => Promise<ReportPassResult>;
  intervalMs: number;
  registry: Registry;
  logger: Logger;
}): PeriodicPass {
  const counter = new Counter({
    name: options.metric,
    help: options.help,
    labelNames: ['outcome'],
    registers: [options.registry],
  });
  const pass = new PeriodicPass(
    async () => {
      const result = await options.pass();
      counter.inc({ outcome: 'built' }, result.reports);
      counter.inc({ outcome: 'sent' }, result.sent);
      counter.inc({ outcome: 'refused' }, result.refused);
      if (result.reports > 0) options.logger.info(result, `${options.name} reports sent`);
    },
    options.intervalMs,
    (error) => options.logger.warn({ err: error }, `${options.name} report pass failed`),
  );
  pass.start();
  return pass;
}
