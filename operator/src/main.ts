// The operator process: the only place that builds things. Env: KUBECONFIG (or in-cluster),
// NATS_URL, WATCH_NAMESPACE (optional); see config.ts for the rest.
import { Resolver } from 'node:dns/promises';
import { hostname } from 'node:os';
import { AccountStore } from '@hermod/accounts';
import { openDkimKeyBucket, openDomainBucket, openDomainStatusBucket } from '@hermod/domain-config';
import { connectDatabase, connectNatsServer, createServiceBase, runMain } from '@hermod/service-runtime';
import { loadOperatorConfig } from './config.js';
import { generateDkimKey } from './controller/dkim.js';
import { KubeClient } from './kube/kube-client.js';
import { inClusterNamespace } from './kube/kube-credentials.js';
import { createOperatorMetrics } from './metrics.js';
import { Operator } from './operator.js';

runMain('operator', async () => {
  const config = loadOperatorConfig();
  // The ops endpoint answers from here on: live while NATS or PostgreSQL are still awaited, and
  // /readyz names the dependency it waits for (like every service).
  const base = createServiceBase('operator', config);
  const { logger, registry, shutdown } = base;
  const metrics = createOperatorMetrics(registry);

  const client = await KubeClient.load(config.KUBECONFIG, (r) =>
    metrics.apiRequests.inc({ verb: r.verb, resource: r.resource, code: String(r.statusCode) }),
  );

  const nc = await connectNatsServer(base, config.NATS_URL);
  const js = nc.jetstream();
  const buckets = {
    domains: await openDomainBucket(js, config.NATS_STREAM_REPLICAS),
    dkimKeys: await openDkimKeyBucket(js, config.NATS_STREAM_REPLICAS),
    domainStatus: await openDomainStatusBucket(js, config.NATS_STREAM_REPLICAS),
  };

  let dns: Resolver | undefined;
  if (config.DNS_VERIFY) {
    dns = new Resolver({ timeout: config.DNS_TIMEOUT_MS, tries: 1 });
    if (config.DNS_SERVERS.length > 0) dns.setServers(config.DNS_SERVERS);
  }

  // MailUser and MailGroup need the accounts store; without DATABASE_URL only MailDomain is reconciled.
  // While PostgreSQL cannot be reached the migrations are retried with backoff (/readyz: postgres).
  let accounts: AccountStore | undefined;
  if (config.DATABASE_URL) {
    const pool = await connectDatabase(base, { ...config, DATABASE_URL: config.DATABASE_URL });
    accounts = new AccountStore(pool);
  } else logger.warn('DATABASE_URL is not set: MailUser and MailGroup are not reconciled');

  const identity = config.POD_NAME ?? `${hostname()}-${process.pid}`;
  const operator = new Operator({
    client,
    buckets,
    logger,
    metrics,
    watchNamespace: config.WATCH_NAMESPACE,
    identity,
    leaderElection: config.LEADER_ELECTION
      ? {
          // In a pod without POD_NAMESPACE set, the service-account mount says where we run.
          namespace:
            config.LEADER_ELECTION_NAMESPACE ??
            config.POD_NAMESPACE ??
            (await inClusterNamespace()) ??
            config.WATCH_NAMESPACE ??
            'default',
          name: config.LEADER_ELECTION_LEASE,
          leaseDurationMs: config.LEASE_DURATION_MS,
          renewDeadlineMs: config.RENEW_DEADLINE_MS,
          retryPeriodMs: config.RETRY_PERIOD_MS,
        }
      : undefined,
    workers: config.WORKERS,
    accountWorkers: config.ACCOUNT_WORKERS,
    accountEvents: { perSecond: config.ACCOUNT_EVENT_RATE, burst: config.ACCOUNT_EVENT_BURST },
    resyncMs: config.RESYNC_PERIOD_MS,
    maxBackoffMs: config.MAX_BACKOFF_MS,
    dns,
    dnsRecheckMs: config.DNS_RECHECK_MS,
    keyMinIntervalMs: config.DKIM_KEY_MIN_INTERVAL_MS,
    defaultMxHosts: config.HERMOD_MX_HOSTS,
    autoconfigTarget: config.HERMOD_AUTOCONFIG_HOST,
    generateKey: generateDkimKey,
    onLostLeadership: () => logger.warn('lost leadership; campaigning again'),
    accounts,
    usageRefreshMs: config.USAGE_REFRESH_MS,
  });

  base.readiness.push({ name: 'informers-synced', check: () => operator.synced });
  shutdown.register('kube-client', () => client.close());
  shutdown.register('operator', () => operator.stop());
  const ops = await base.startOps();
  operator.start();
  logger.info(
    {
      identity,
      opsPort: ops.port,
      namespace: config.WATCH_NAMESPACE ?? '(all)',
      leaderElection: config.LEADER_ELECTION,
    },
    'operator started',
  );
});
