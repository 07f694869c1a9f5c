import { AccountStore } from '@hermod/accounts';
import { domainOfAddress } from '@hermod/address';
import { malwareScanHook, malwareScannerFromConfig, RspamdClient } from '@hermod/content-scan';
import { recordDmarcEvaluations } from '@hermod/dmarc-reports';
import { openDomainConfig, openLivePolicySet } from '@hermod/domain-config';
import { publishJob } from '@hermod/nats';
import { subjects } from '@hermod/pipeline';
import {
  expireQuarantine,
  expireQuarantineDigests,
  processUserActions,
  quarantineMessage,
  sendQuarantineDigests,
} from '@hermod/quarantine';
import {
  connectBus,
  connectDatabase,
  createServiceBase,
  listenOn,
  openCertificateFiles,
  runMain,
  TrustedProxies,
} from '@hermod/service-runtime';
import {
  createProxyListener,
  openAcceptPath,
  openRecipientValidation,
  phaseHistogramOptions,
  phaseObserver,
  postmasterAddress,
  RecipientRoutes,
  refusalRecorder,
} from '@hermod/smtp';
import { PeriodicPass } from '@hermod/spool';
import { Counter, Histogram } from 'prom-client';
import { loadMxConfig } from './config.js';
import type { MxDeps } from './deps.js';
import { createMxServer } from './mx-server.js';
import { cachingResolver } from './policy/caching-resolver.js';
import { ClientLimits } from './policy/client-limits.js';
import { DmarcRecorder } from './policy/dmarc-recorder.js';
import { createDnsResolver } from './policy/dns-resolver.js';

runMain('mx', async () => {
  const config = loadMxConfig();
  const base = createServiceBase('mx', config);
  const { logger, registry, shutdown } = base;
  // Read again when the files change (a renewed certificate), without a restart.
  const certificates = await openCertificateFiles(base, config);
  if (!certificates) logger.warn('TLS_CERT_FILE/TLS_KEY_FILE not set: STARTTLS is not offered');
  const pool = await connectDatabase(base, config);
  // Accepting needs only the spool: without nats-server it goes on accepting; ready only if configured so.
  const bus = await connectBus(base, config.NATS_URL, config.NATS_STREAM_REPLICAS, {
    servesWithout: config.READY_WITHOUT_NATS,
  });
  const { js } = bus;

  const domains = await openDomainConfig(js, config.NATS_STREAM_REPLICAS, base);
  const validateRecipient = await openRecipientValidation(base, bus, domains, {
    routingAddress: config.ROUTING_GRPC_ADDRESS,
    timeoutMs: config.ROUTING_TIMEOUT_MS,
    cacheMs: config.MX_RECIPIENT_CACHE_MS,
    replicas: config.NATS_STREAM_REPLICAS,
  });
  // Where a message waits (debug figures; bench/accept-phases.ts prints them).
  const phases = phaseObserver(new Histogram({ ...phaseHistogramOptions('mx'), registers: [registry] }));
  const { accept } = openAcceptPath(base, pool, bus, {
    maxTransactions: config.MX_ACCEPT_TRANSACTIONS,
    phases,
  });
  const rejections = new Counter({
    name: 'hermod_mx_rejections_total',
    help: 'Refusals by reason (and reply code, where one was sent)',
    labelNames: ['reason', 'code'],
    registers: [registry],
  });
  const dmarcRecorder = config.MX_DMARC_REPORTS
    ? new DmarcRecorder((rows) => recordDmarcEvaluations(pool, rows), logger)
    : undefined;
  if (dmarcRecorder) shutdown.register('dmarc-recorder', () => dmarcRecorder.stop());
  const policy = await openLivePolicySet(config, domains, shutdown);
  const malwareScanner = malwareScannerFromConfig(config, registry);
  if (!malwareScanner) logger.warn('CLAMD_ADDRESS not set: no malware scanning');
  else shutdown.register('malware-scanner', () => malwareScanner.close());
  // Quarantined entries past their retention go (every replica may sweep: SKIP LOCKED).
  const quarantineExpiry = new PeriodicPass(
    async () => {
      await expireQuarantine(pool);
      // A digest's row outlives every entry it lists, then goes.
      await expireQuarantineDigests(pool, (config.QUARANTINE_RETENTION_DAYS + 1) * 86_400_000);
    },
    config.QUARANTINE_EXPIRY_SWEEP_MS,
    (error) => logger.warn({ err: error }, 'quarantine expiry sweep failed'),
  );
  quarantineExpiry.start();
  shutdown.register('quarantine-expiry', () => quarantineExpiry.stop());
  // Recipients' own releases and deletes (a keyword or folder on the notice, from any IMAP client).
  const quarantineAccounts = new AccountStore(pool);
  const quarantineSettings = (recipient: string) => domains.get(domainOfAddress(recipient))?.quarantine;
  const userReleaseKinds = (recipient: string) =>
    quarantineSettings(recipient)?.userReleaseKinds ?? config.QUARANTINE_USER_RELEASE_KINDS;
  const digest = (recipient: string) => quarantineSettings(recipient)?.digest ?? config.QUARANTINE_DIGEST;
  const quarantineActions = new PeriodicPass(
    async () => {
      const outcomes = await processUserActions(pool, {
        userReleaseKinds,
        ownsAddress: (accountId, address) => quarantineAccounts.ownsAddress(accountId, address),
        released: async (spoolId) => {
          await publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` });
        },
      });
      for (const outcome of outcomes) logger.info(outcome, 'quarantine user action');
    },
    config.QUARANTINE_ACTION_POLL_MS,
    (error) => logger.warn({ err: error }, 'quarantine user actions failed'),
  );
  quarantineActions.start();
  shutdown.register('quarantine-actions', () => quarantineActions.stop());
  // Digests of held messages, once per recipient and period across the replicas (a row per period).
  const quarantineDigests = new PeriodicPass(
    async () => {
      const sent = await sendQuarantineDigests(pool, {
        now: new Date(),
        intervalMs: config.QUARANTINE_DIGEST_INTERVAL_MS,
        offsetMs: config.QUARANTINE_DIGEST_OFFSET_MS,
        host: config.MX_HOSTNAME,
        userReleaseKinds,
      });
      for (const { spoolId, recipient, periodEnd, entryIds } of sent) {
        logger.info({ spoolId, recipient, periodEnd, entries: entryIds.length }, 'quarantine digest');
        // Durable already: the spool sweeper hands it over if this publish is lost.
        if (spoolId)
          await publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` }).catch(
            (error) =>
              logger.warn({ err: error, spoolId }, 'quarantine digest not published; the sweeper will retry'),
          );
      }
    },
    config.QUARANTINE_DIGEST_POLL_MS,
    (error) => logger.warn({ err: error }, 'quarantine digests failed'),
  );
  quarantineDigests.start();
  shutdown.register('quarantine-digests', () => quarantineDigests.stop());
  const deps: MxDeps = {
    config,
    postmaster: postmasterAddress(config.MX_POSTMASTER_ADDRESS ?? '', config.MX_HOSTNAME),
    refused: refusalRecorder(rejections, logger),
    logger,
    pool,
    validateRecipient,
    recipientRoutes: new RecipientRoutes(),
    accept,
    resolve: cachingResolver(
      createDnsResolver(config.MX_DNS_SERVERS, config.MX_DNS_TIMEOUT_MS),
      config.MX_DNS_CACHE_MS,
    ),
    limits: new ClientLimits(config.MX_MAX_CONNECTIONS_PER_IP, config.MX_RATE_LIMIT_PER_MINUTE),
    ...(dmarcRecorder ? { dmarcRecorder } : {}),
    policy,
    ...(config.RSPAMD_URL ? { rspamd: new RspamdClient(config.RSPAMD_URL, config.RSPAMD_TIMEOUT_MS) } : {}),
    ...(malwareScanner
      ? {
          scanMalware: malwareScanHook(
            malwareScanner,
            {
              onInfected: config.MX_MALWARE_ACTION,
              onFailure: config.CLAMD_FAIL_MODE,
              host: config.MX_HOSTNAME,
            },
            logger,
          ),
        }
      : {}),
    quarantine: async (request) => {
      const { spoolIds } = await quarantineMessage(pool, request, {
        retentionMs: config.QUARANTINE_RETENTION_DAYS * 86_400_000,
        host: config.MX_HOSTNAME,
        userReleaseKinds,
        digest,
      });
      // The notice is durable already; the spool sweeper hands it over if this publish is lost.
      for (const spoolId of spoolIds)
        publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` }).catch((error) =>
          logger.warn({ err: error, spoolId }, 'quarantine notice not published; the sweeper will retry'),
        );
    },
    metrics: {
      messages: new Counter({
        name: 'hermod_mx_messages_total',
        help: 'Messages at end of DATA by reply code',
        labelNames: ['outcome'],
        registers: [registry],
      }),
      acceptSeconds: new Histogram({
        name: 'hermod_mx_accept_seconds',
        help: 'From end of DATA to the 250 reply (filters and the durable commit included)',
        buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
      phases,
      rejections,
      policyMatches: new Counter({
        name: 'hermod_mx_policy_matches_total',
        help: 'Messages a policy rule matched, by rule',
        labelNames: ['rule'],
        registers: [registry],
      }),
    },
  };

  const smtp = createMxServer(
    deps,
    certificates && { ...certificates.pair, SNICallback: certificates.serverTls.SNICallback },
  );
  certificates?.onChange((pair) => smtp.updateSecureContext(pair));
  const smtpPort = await listenOn(smtp.server, config.MX_HOST, config.MX_SMTP_PORT);
  const proxy = config.MX_PROXY_PORT
    ? createProxyListener(smtp, { trusted: new TrustedProxies(config.MX_PROXY_TRUSTED_CIDRS), logger })
    : undefined;
  const proxyPort = proxy ? await listenOn(proxy, config.MX_HOST, config.MX_PROXY_PORT) : undefined;
  // Stop accepting first; transactions in flight finish (or get 421) within the grace period.
  shutdown.register('smtp-listeners', async () => {
    if (proxy) await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });
  await base.startOps();
  logger.info({ smtpPort, proxyPort }, 'mx listening');
});
