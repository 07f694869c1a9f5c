import { srsForward } from '@hermod/address';
import { openDomainConfig } from '@hermod/domain-config';
import { consumeJobs, publishJob } from '@hermod/nats';
import {
  consumers,
  LocalDeliveryJob,
  type MailboxChangeEventPayload,
  mailboxEventSubject,
  subjects,
} from '@hermod/pipeline';
import { connectBus, connectDatabase, createServiceBase, runMain } from '@hermod/service-runtime';
import { pruneTracking, recordMissingScriptInputs } from '@hermod/sieve-store';
import { PeriodicPass } from '@hermod/spool';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { Counter } from 'prom-client';
import { loadMdaConfig } from './config.js';
import { deliverBatch } from './deliver.js';
import { createReportMetrics } from './reports/metrics.js';
import { ReportIntake } from './reports/report-intake.js';
import { mdaSessionSettings } from './session-settings.js';
import { DomainScriptSync } from './sieve/domain-scripts.js';
import { createSieveMetrics } from './sieve/metrics.js';

runMain('mda', async () => {
  const config = loadMdaConfig();
  const base = createServiceBase('mda', config);
  const { logger, registry, shutdown } = base;
  const pool = await connectDatabase(base, config, mdaSessionSettings);
  const { nc, js } = await connectBus(base, config.NATS_URL, config.NATS_STREAM_REPLICAS);

  const tracer = trace.getTracer('hermod.mda');
  const outcomes = new Counter({
    name: 'hermod_mda_jobs_total',
    help: 'Local delivery jobs by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const batchSizes = new Counter({
    name: 'hermod_mda_batches_total',
    help: 'Delivery transactions committed',
    registers: [registry],
  });
  // Live domain settings (the sub-address separator Sieve's `subaddress` uses).
  const domains = await openDomainConfig(js, config.NATS_STREAM_REPLICAS, base);
  if (config.MDA_SIEVE_ENABLED) {
    // Global scripts a MailDomain sets (spec.sieve) are stored where delivery loads them from.
    const domainScripts = new DomainScriptSync(pool, domains, logger);
    shutdown.register(
      'domain-sieve-scripts',
      domains.onChange((domain) => domainScripts.changed(domain)),
    );
    await domainScripts.markAll();
    await domainScripts.pass();
    const retry = new PeriodicPass(
      () => domainScripts.pass(),
      10_000,
      (error) => logger.warn({ err: error }, 'global sieve script sync failed'),
    );
    retry.start();
    shutdown.register('domain-sieve-scripts-retry', () => retry.stop());
  }
  const srsSecret = config.MDA_SRS_SECRET;
  if (config.MDA_SIEVE_ENABLED && !srsSecret)
    logger.warn('Sieve redirects keep the original sender: MDA_SRS_SECRET is not set');
  const deps = {
    pool,
    logger,
    quotaRetryMs: config.MDA_QUOTA_RETRY_MS,
    ...(config.MDA_SIEVE_ENABLED
      ? {
          sieve: {
            timeBudgetMs: config.SIEVE_TIME_BUDGET_MS,
            maxActions: config.SIEVE_MAX_ACTIONS,
            maxRedirects: config.SIEVE_MAX_REDIRECTS,
            hostname: config.MDA_HOSTNAME,
            autoRepliesPerHour: config.SIEVE_AUTO_REPLIES_PER_HOUR,
            vacationMinSeconds: config.SIEVE_VACATION_MIN_SECONDS,
            vacationMaxSeconds: config.SIEVE_VACATION_MAX_SECONDS,
            subaddressSeparator: (domain: string) => domains.get(domain)?.subaddressSeparator ?? '+',
            rewriteSender: (sender: string, domain: string) =>
              srsSecret ? srsForward(sender, config.MDA_SRS_DOMAIN || domain, srsSecret) : sender,
            metrics: createSieveMetrics(registry),
          },
        }
      : {}),
    publishRouting: async (spoolIds: string[]) => {
      for (const spoolId of spoolIds)
        await publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` });
    },
    // Core NATS, fire and forget: IMAP sessions also re-read the mailbox state, so a lost event only delays a notification.
    announce: (event: MailboxChangeEventPayload) =>
      nc.publish(mailboxEventSubject(event.accountId), JSON.stringify(event)),
  };
  // Reports sent to our own rua addresses are read after their delivery, off its path.
  const reportIntake = new ReportIntake(pool, logger, createReportMetrics(registry), {
    addresses: config.MDA_REPORT_ADDRESSES,
    maxMessageBytes: config.MDA_REPORT_MAX_MESSAGE_BYTES,
    limits: { maxReportBytes: config.MDA_REPORT_MAX_FILE_BYTES, maxRecords: config.MDA_REPORT_MAX_RECORDS },
    queueLimit: config.MDA_REPORT_QUEUE,
  });
  // Registered before the consumer, so it runs after the consumer stopped (hooks run in reverse).
  shutdown.register('report-intake', () => reportIntake.idle());
  const consumer = consumeJobs({
    js,
    stream: consumers.mda.stream,
    durable: consumers.mda.durable,
    parse: (data) => LocalDeliveryJob.parse(data),
    handleBatch: async (jobs) => {
      // One span per committed batch, linked to the trace of every message in it.
      const links = jobs.flatMap((j) => {
        const context = trace.getSpanContext(j.traceContext);
        return context ? [{ context }] : [];
      });
      // And one span per message in its own trace, so a message's trace runs from accept to mailbox.
      const spans = jobs.map((j) =>
        tracer.startSpan(
          'mda.deliver',
          { attributes: { 'hermod.spool_id': j.payload.spoolId } },
          j.traceContext,
        ),
      );
      const result = await tracer
        .startActiveSpan(
          'mda.deliver-batch',
          { links, attributes: { 'hermod.batch_size': jobs.length } },
          (span) =>
            deliverBatch(
              deps,
              jobs.map((j) => j.payload),
            ).finally(() => span.end()),
        )
        .then((delivered) => {
          delivered.forEach((outcome, i) => {
            if (outcome.kind !== 'ack')
              spans[i]?.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
          });
          return delivered;
        })
        .finally(() => {
          for (const span of spans) span.end();
        });
      batchSizes.inc();
      for (const o of result) outcomes.inc({ outcome: o.kind });
      reportIntake.delivered(jobs.filter((_, i) => result[i]?.kind === 'ack').map((j) => j.payload.spoolId));
      return result;
    },
    logger,
    maxBatch: config.MDA_BATCH_SIZE,
    concurrency: config.MDA_CONCURRENCY,
    lingerMs: config.MDA_BATCH_LINGER_MS,
  });
  shutdown.register('delivery-consumer', () => consumer.stop());
  if (config.MDA_SIEVE_ENABLED) {
    // Vacation and duplicate tracking rows past their period are forgotten (any replica may do it);
    // scripts stored before their inputs were recorded get them, in the first pass.
    const prune = new PeriodicPass(
      async () => {
        const recorded = await recordMissingScriptInputs(pool);
        if (recorded > 0) logger.info({ scripts: recorded }, 'recorded what older Sieve scripts read');
        await pruneTracking(pool);
      },
      config.SIEVE_TRACKING_PRUNE_INTERVAL_MS,
      (error) => logger.warn({ err: error }, 'sieve tracking prune failed'),
    );
    prune.start();
    shutdown.register('sieve-tracking-prune', () => prune.stop());
  }
  await base.startOps();
  logger.info('mda ready');
});
