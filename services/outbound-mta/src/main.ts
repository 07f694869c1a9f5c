import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { runTlsReportPass } from '@hermod/dmarc-reports';
import { openDkimKeyBucket, openDomainConfig } from '@hermod/domain-config';
import { consumeJobs, publishJob } from '@hermod/nats';
import { consumers, OutboundJob, subjects } from '@hermod/pipeline';
import { connectBus, connectDatabase, createServiceBase, runMain } from '@hermod/service-runtime';
import { daneResolver, loadOutboundConfig } from './config.js';
import { defaultRulesFile, loadReplyClassifier } from './delivery/classify.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { dkimKeySource } from './dkim/key-source.js';
import { validatingResolverQuery } from './dns/dnssec-query.js';
import { injectLocalMessage } from './dsn/send-dsn.js';
import { createOutboundMetrics } from './metrics.js';
import { enqueueOrphans } from './queue/enqueue.js';
import { intakeJobs } from './queue/intake.js';
import { startDmarcReporter } from './reports/dmarc-reporter.js';
import { startReportJob } from './reports/report-job.js';
import { httpsReportPoster } from './reports/tls-report-post.js';
import { TlsSessionRecorder } from './reports/tls-sessions.js';
import { httpsPolicyFetcher, MtaStsCache } from './tls/mta-sts.js';
import { OUTBOUND_WAKE_SUBJECT } from './wake.js';

runMain('outbound-mta', async () => {
  const config = loadOutboundConfig();
  const base = createServiceBase('outbound-mta', config);
  const { logger, registry, shutdown } = base;
  const pool = await connectDatabase(base, config);
  const { nc, js } = await connectBus(base, config.NATS_URL, config.NATS_STREAM_REPLICAS);

  const resolver = new Resolver({ timeout: 5_000, tries: 2 });
  if (config.OUTBOUND_DNS_SERVERS.length > 0) resolver.setServers(config.OUTBOUND_DNS_SERVERS);
  const dane = daneResolver(config);
  if (config.OUTBOUND_DANE && !dane)
    throw new Error(
      'OUTBOUND_DANE needs OUTBOUND_DANE_RESOLVER or OUTBOUND_DNS_SERVERS (a validating resolver)',
    );
  const ca = config.OUTBOUND_TLS_CA_FILE ? readFileSync(config.OUTBOUND_TLS_CA_FILE) : undefined;

  const domains = await openDomainConfig(js, config.NATS_STREAM_REPLICAS, base);
  let dkimBucket: ReturnType<typeof openDkimKeyBucket> | undefined;
  const dkimKey = dkimKeySource(
    (d) => domains.get(d),
    () => (dkimBucket ??= openDkimKeyBucket(js, config.NATS_STREAM_REPLICAS)),
  );

  const owner = `${hostname()}:${process.pid}`;
  const metrics = createOutboundMetrics(registry, pool);
  const injector = {
    pool,
    publishRouting: (spoolId: string) =>
      publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` }),
  };
  const tlsSessions = config.OUTBOUND_TLSRPT_FROM
    ? new TlsSessionRecorder(
        pool,
        Math.max(1, Math.round(config.OUTBOUND_TLSRPT_PERIOD / 1000)),
        config.OUTBOUND_TLSRPT_FLUSH_INTERVAL,
        logger,
      )
    : undefined;
  const dispatcher = new Dispatcher({
    pool,
    logger,
    resolver,
    domainConfig: (d) => domains.get(d),
    dkimKey,
    mtaSts: new MtaStsCache(
      resolver,
      httpsPolicyFetcher({ resolver, port: config.OUTBOUND_MTA_STS_PORT, ca }),
    ),
    dane: config.OUTBOUND_DANE && dane ? validatingResolverQuery(dane) : undefined,
    tlsSessions,
    classify: loadReplyClassifier(config.OUTBOUND_REPLY_RULES_FILE ?? defaultRulesFile),
    metrics,
    finish: {
      pool,
      logger,
      reportingMta: config.OUTBOUND_HELO_NAME,
      retryScheduleMs: config.OUTBOUND_RETRY_SCHEDULE,
      backupRetryMs: config.OUTBOUND_BACKUP_RETRY_INTERVAL,
      delayNoticeAfterMs: config.OUTBOUND_DELAY_NOTICE_AFTER,
      dsn: injector,
    },
    settings: {
      owner,
      heloName: config.OUTBOUND_HELO_NAME,
      smtpPort: config.OUTBOUND_SMTP_PORT,
      concurrency: config.OUTBOUND_CONCURRENCY,
      destinationConcurrency: config.OUTBOUND_DESTINATION_CONCURRENCY,
      messagesPerConnection: config.OUTBOUND_MESSAGES_PER_CONNECTION,
      leaseMs: config.OUTBOUND_LEASE,
      pollIntervalMs: config.OUTBOUND_POLL_INTERVAL,
      connectTimeoutMs: config.OUTBOUND_CONNECT_TIMEOUT,
      greetingTimeoutMs: config.OUTBOUND_GREETING_TIMEOUT,
      commandTimeoutMs: config.OUTBOUND_COMMAND_TIMEOUT,
      finalDotTimeoutMs: config.OUTBOUND_FINAL_DOT_TIMEOUT,
      ca,
    },
  });
  if (tlsSessions) {
    tlsSessions.start();
    // Registered before the dispatcher, so stopped (and flushed) after its last session ended.
    shutdown.register('tls-session-counts', () => tlsSessions.stop());
  }
  dispatcher.start();
  shutdown.register('dispatcher', () => dispatcher.stop());

  // Recipients routed 'outbound' whose job never reached us: schedule them anyway.
  const orphanTimer = setInterval(() => {
    enqueueOrphans(pool, config.OUTBOUND_MAX_LIFETIME, 60_000)
      .then((n) => {
        if (n > 0) {
          logger.info({ recipients: n }, 'scheduled outbound recipients whose job was lost');
          dispatcher.wake();
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'orphan sweep failed'));
  }, 30_000);
  shutdown.register('orphan-sweep', () => clearInterval(orphanTimer));

  const consumer = consumeJobs({
    js,
    stream: consumers.outboundMta.stream,
    durable: consumers.outboundMta.durable,
    parse: (data) => OutboundJob.parse(data),
    handleBatch: async (jobs) => {
      const outcomes = await intakeJobs(pool, jobs, config.OUTBOUND_MAX_LIFETIME);
      dispatcher.wake();
      return outcomes;
    },
    logger,
    maxBatch: 64,
  });
  shutdown.register('outbound-consumer', () => consumer.stop());
  // Core NATS poke from `hermod queue retry|release`: look at the queue now.
  const poke = nc.subscribe(OUTBOUND_WAKE_SUBJECT, { callback: () => dispatcher.wake() });
  shutdown.register('wake-subscription', () => poke.unsubscribe());
  if (config.OUTBOUND_DMARC_REPORT_FROM) {
    const reporter = startDmarcReporter({
      pool,
      injector,
      resolveTxt: (name) => resolver.resolveTxt(name),
      from: config.OUTBOUND_DMARC_REPORT_FROM,
      orgName:
        config.OUTBOUND_DMARC_REPORT_ORG ?? config.OUTBOUND_DMARC_REPORT_FROM.split('@')[1] ?? 'hermod',
      periodMs: config.OUTBOUND_DMARC_REPORT_PERIOD,
      intervalMs: config.OUTBOUND_DMARC_REPORT_INTERVAL,
      registry,
      logger,
    });
    shutdown.register('dmarc-reports', () => reporter.stop());
  }
  if (config.OUTBOUND_TLSRPT_FROM) {
    const from = config.OUTBOUND_TLSRPT_FROM;
    const post = httpsReportPoster({ resolver, ca });
    const reporter = startReportJob({
      name: 'TLS (RFC 8460)',
      metric: 'hermod_tls_reports_total',
      help: 'SMTP TLS reports: built (one per domain and period), sent (one per rua URI), refused (HTTPS POST refused)',
      pass: () =>
        runTlsReportPass({
          pool,
          resolveTxt: (name) => resolver.resolveTxt(name),
          inject: async (key, message) => {
            await injectLocalMessage(injector, key, message);
          },
          post,
          organizationName: config.OUTBOUND_TLSRPT_ORG ?? from.split('@')[1] ?? 'hermod',
          from,
          periodSeconds: Math.max(1, Math.round(config.OUTBOUND_TLSRPT_PERIOD / 1000)),
        }),
      intervalMs: config.OUTBOUND_TLSRPT_INTERVAL,
      registry,
      logger,
    });
    shutdown.register('tls-reports', () => reporter.stop());
  }
  await base.startOps();
  logger.info({ owner, helo: config.OUTBOUND_HELO_NAME }, 'outbound-mta ready');
});
