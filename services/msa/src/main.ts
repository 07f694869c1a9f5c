import { BlockList, isIPv6, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import {
  AccountStore,
  LoginGate,
  LoginThrottle,
  loginThrottlePolicy,
  oidcVerifier,
  PostgresLoginFailureStore,
} from '@hermod/accounts';
import { malwareScanHook, malwareScannerFromConfig, RspamdClient } from '@hermod/content-scan';
import { openDomainConfig, openLivePolicySet } from '@hermod/domain-config';
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
import { Counter, Histogram } from 'prom-client';
import { loadMsaConfig } from './config.js';
import type { MsaDeps } from './deps.js';
import { type OutboundFilterDeps, observeSubmissionMalware } from './policy/outbound-filter.js';
import { suspensionReporter } from './sending-suspension.js';
import { SubmissionLimits } from './submission-limits.js';
import { createSubmissionServers } from './submission-server.js';

runMain('msa', async () => {
  const config = loadMsaConfig();
  const base = createServiceBase('msa', config);
  const { logger, registry, shutdown } = base;
  // Read again when the files change (a renewed certificate), without a restart.
  const certificates = await openCertificateFiles(base, config);
  if (!certificates) throw new Error('TLS_CERT_FILE/TLS_KEY_FILE are required');
  const pool = await connectDatabase(base, config);
  // Accepting needs only the spool: without nats-server it goes on accepting; ready only if configured so.
  const bus = await connectBus(base, config.NATS_URL, config.NATS_STREAM_REPLICAS, {
    servesWithout: config.READY_WITHOUT_NATS,
  });

  const trusted = new BlockList();
  for (const network of config.MSA_TRUSTED_NETWORKS) {
    const [address, prefix] = network.split('/') as [string, string];
    trusted.addSubnet(address, Number(prefix), isIPv6(address) ? 'ipv6' : 'ipv4');
  }

  const domains = await openDomainConfig(bus.js, config.NATS_STREAM_REPLICAS, base);
  const validateRecipient = await openRecipientValidation(base, bus, domains, {
    routingAddress: config.ROUTING_GRPC_ADDRESS,
    timeoutMs: config.ROUTING_TIMEOUT_MS,
    cacheMs: config.MSA_RECIPIENT_CACHE_MS,
    replicas: config.NATS_STREAM_REPLICAS,
  });
  // Where a submission waits (debug figures; bench/accept-phases.ts prints them).
  const phases = phaseObserver(new Histogram({ ...phaseHistogramOptions('msa'), registers: [registry] }));
  const { accept, handOver } = openAcceptPath(base, pool, bus, {
    maxTransactions: config.MSA_ACCEPT_TRANSACTIONS,
    phases,
  });
  const accounts = new AccountStore(pool);
  const loginThrottle = new LoginThrottle(
    new PostgresLoginFailureStore(pool, (error) =>
      logger.warn({ err: error }, 'login_failures prune failed'),
    ),
    loginThrottlePolicy(config),
  );
  const policy = await openLivePolicySet(config, domains, shutdown);
  const malwareScanner = malwareScannerFromConfig(config, registry);
  if (!malwareScanner) logger.warn('CLAMD_ADDRESS not set: submissions are not scanned for malware');
  else shutdown.register('malware-scanner', () => malwareScanner.close());
  const limits = new SubmissionLimits(
    pool,
    {
      messagesPerHour: config.MSA_ACCOUNT_MESSAGES_PER_HOUR,
      recipientsPerHour: config.MSA_ACCOUNT_RECIPIENTS_PER_HOUR,
      sessionsPerAccount: config.MSA_ACCOUNT_MAX_SESSIONS,
      suspendAfterHits: config.MSA_SUSPEND_AFTER_LIMIT_HITS,
      suspendWindowMs: config.MSA_SUSPEND_WINDOW_MS,
    },
    Date.now,
    (error) => logger.warn({ err: error }, 'submission_usage prune failed'),
  );
  const suspended = suspensionReporter(
    new Counter({
      name: 'hermod_msa_sending_suspensions_total',
      help: 'Accounts whose sending msa suspended (compromised-account containment), by cause',
      labelNames: ['cause'],
      registers: [registry],
    }),
    logger,
    (spoolId) => handOver([{ spoolId, recipients: [{}] }]),
  );
  const outbound: OutboundFilterDeps = {
    logger,
    ...(config.RSPAMD_URL ? { rspamd: new RspamdClient(config.RSPAMD_URL, config.RSPAMD_TIMEOUT_MS) } : {}),
    rspamdFailMode: config.RSPAMD_FAIL_MODE,
    hostname: config.MSA_HOSTNAME,
    refusedContent: new Counter({
      name: 'hermod_msa_refused_content_total',
      help: 'Submissions refused for their content, by reason (malware, spam)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    // Content refused as malware or spam counts towards compromised-account containment like a
    // recipient-limit hit: the same threshold and window decide the suspension.
    sendingAbuse: {
      report: async (event) => {
        const outcome = await limits.limitHit(
          event.accountId,
          await limits.policy(event.accountId),
          `submissions were refused as ${event.kind} repeatedly`,
        );
        suspended(event.accountId, outcome, { sessionId: event.spoolId, cause: event.kind });
      },
    },
  };
  const deps: MsaDeps = {
    outbound,
    ...(malwareScanner
      ? {
          scanMalware: malwareScanHook(
            malwareScanner,
            { onInfected: 'reject', onFailure: config.CLAMD_FAIL_MODE },
            logger,
            observeSubmissionMalware(outbound),
          ),
        }
      : {}),
    config,
    policy,
    logger,
    pool,
    accounts,
    limits,
    suspended,
    postmaster: postmasterAddress(config.MSA_POSTMASTER_ADDRESS ?? '', config.MSA_HOSTNAME),
    validateRecipient,
    recipientRoutes: new RecipientRoutes(),
    accept,
    isTrusted: (address) => {
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
      return trusted.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
    },
    login: new LoginGate(accounts, loginThrottle, undefined, oidcVerifier(config)),
    refused: refusalRecorder(
      new Counter({
        name: 'hermod_msa_rejections_total',
        help: 'Refused SMTP commands by reason and reply code',
        labelNames: ['reason', 'code'],
        registers: [registry],
      }),
      logger,
    ),
    metrics: {
      messages: new Counter({
        name: 'hermod_msa_messages_total',
        help: 'Messages at end of DATA by reply code',
        labelNames: ['outcome'],
        registers: [registry],
      }),
      acceptSeconds: new Histogram({
        name: 'hermod_msa_accept_seconds',
        help: 'From end of DATA to the 250 reply (includes the durable commit)',
        buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
      phases,
      authFailures: new Counter({
        name: 'hermod_msa_auth_failures_total',
        help: 'Failed AUTH attempts',
        registers: [registry],
      }),
    },
  };

  const servers = createSubmissionServers(deps, {
    ...certificates.pair,
    SNICallback: certificates.serverTls.SNICallback,
  });
  certificates.onChange((pair) => {
    servers.starttls.updateSecureContext(pair);
    servers.implicitTls.updateSecureContext(pair);
  });
  const submissionPort = await listenOn(servers.starttls.server, config.MSA_HOST, config.MSA_SUBMISSION_PORT);
  const submissionsPort = await listenOn(
    servers.implicitTls.server,
    config.MSA_HOST,
    config.MSA_SUBMISSIONS_PORT,
  );
  // Behind a load balancer speaking the PROXY protocol: the client address comes from its header.
  const trustedProxies = new TrustedProxies(config.MSA_PROXY_TRUSTED_CIDRS);
  const proxies: Server[] = [];
  const proxyPorts: Record<string, number> = {};
  if (config.MSA_PROXY_SUBMISSION_PORT) {
    const proxy = createProxyListener(servers.starttls, { trusted: trustedProxies, logger });
    proxyPorts.submission = await listenOn(proxy, config.MSA_HOST, config.MSA_PROXY_SUBMISSION_PORT);
    proxies.push(proxy);
  }
  if (config.MSA_PROXY_SUBMISSIONS_PORT) {
    const proxy = createProxyListener(servers.implicitTls, {
      trusted: trustedProxies,
      logger,
      // The TLS handshake follows the PROXY header, with the certificate in service now.
      wrap: (socket, start) => {
        const secure = new TLSSocket(socket, { isServer: true, ...certificates.serverTls });
        secure.once('secure', () => start(secure));
        secure.on('error', (error) => {
          logger.debug({ err: error }, 'TLS handshake failed');
          socket.destroy();
        });
      },
    });
    proxyPorts.submissions = await listenOn(proxy, config.MSA_HOST, config.MSA_PROXY_SUBMISSIONS_PORT);
    proxies.push(proxy);
  }
  // Stop accepting first; transactions in flight finish (or get 421) within the grace period.
  shutdown.register('smtp-listeners', () =>
    Promise.all([
      ...proxies.map((p) => new Promise<void>((resolve) => p.close(() => resolve()))),
      ...[servers.starttls, servers.implicitTls].map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      ),
    ]).then(() => {}),
  );
  await base.startOps();
  logger.info({ submissionPort, submissionsPort, proxyPorts }, 'msa listening');
});
