import { promises as dns } from 'node:dns';
import { hostname } from 'node:os';
import { AccountStore } from '@hermod/accounts';
import {
  clientSettingsOf,
  mtaStsPolicyOf,
  openDomainConfig,
  openDomainStatusBucket,
  renderMtaStsPolicy,
  writeDomainStatus,
} from '@hermod/domain-config';
import { startGrpcServer } from '@hermod/grpc';
import { consumeJobs, publishJob } from '@hermod/nats';
import { consumers, publishSpoolJobs, RoutingJob, subjects } from '@hermod/pipeline';
import { routingV1 } from '@hermod/proto';
import { connectBus, connectDatabase, createServiceBase, runMain } from '@hermod/service-runtime';
import { PeriodicPass, SpoolSweeper, StorageRetention } from '@hermod/spool';
import { Counter } from 'prom-client';
import { CoalescingAccountLookup, CoalescingLookup } from './account-lookup.js';
import { AutoExchangerMonitor } from './auto-exchanger-monitor.js';
import { BackupCallout } from './backup-callout.js';
import { clientConfigHandler } from './client-config/handler.js';
import { loadRoutingConfig } from './config.js';
import { explainRouteHandler } from './grpc/explain-route.js';
import { validateRecipientHandler } from './grpc/validate-recipient.js';
import { startMtaStsServer } from './mta-sts-server.js';
import type { RoutingLookups } from './route-recipient.js';
import { type RoutingStageDeps, routeBatch } from './routing-stage.js';

runMain('routing', async () => {
  const config = loadRoutingConfig();
  const base = createServiceBase('routing', config);
  const { logger, shutdown, registry } = base;
  const pool = await connectDatabase(base, config);
  const { js } = await connectBus(base, config.NATS_URL, config.NATS_STREAM_REPLICAS);

  const domains = await openDomainConfig(js, config.NATS_STREAM_REPLICAS, base);

  const resolver = new dns.Resolver({ timeout: 5_000, tries: 2 });
  if (config.ROUTING_DNS_SERVERS.length > 0) resolver.setServers(config.ROUTING_DNS_SERVERS);
  const statusBucket = await openDomainStatusBucket(js, config.NATS_STREAM_REPLICAS);
  const auto = new AutoExchangerMonitor({
    domains: () => domains.all(),
    resolveMx: async (domain) => resolver.resolveMx(domain),
    ourNames: config.ROUTING_MX_NAMES,
    publish: (domain, status) => writeDomainStatus(statusBucket, domain, status),
    logger,
    intervalMs: config.ROUTING_AUTO_INTERVAL_MS,
  });
  auto.start();
  // A domain switched to auto is evaluated at once, not at the next interval.
  domains.onChange((_domain, changed) => {
    if (changed?.exchanger === 'auto') void auto.evaluateAll();
  });
  shutdown.register('auto-exchanger', () => auto.stop());

  const accounts = new AccountStore(pool);
  const accountLookup = new CoalescingAccountLookup((addresses) => accounts.findByAddresses(addresses));
  const groupLookup = new CoalescingLookup((addresses) => accounts.findGroups(addresses));
  const lookups: RoutingLookups = {
    domain: (name) => domains.get(name),
    accountFor: (address) => accountLookup.find(address),
    groupFor: (address) => groupLookup.find(address),
    autoExchanger: (domain) => auto.effective(domain),
    maxAliasDepth: config.ROUTING_MAX_ALIAS_DEPTH,
    ...(config.ROUTING_SRS_SECRET ? { srsSecret: config.ROUTING_SRS_SECRET } : {}),
  };
  const callout = new BackupCallout({
    resolver,
    ourNames: config.ROUTING_MX_NAMES,
    port: config.ROUTING_CALLOUT_PORT,
    heloName: config.ROUTING_MX_NAMES[0] ?? hostname(),
    timeoutMs: config.ROUTING_CALLOUT_TIMEOUT_MS,
    cacheMs: config.ROUTING_CALLOUT_CACHE_MS,
    logger,
  });
  // Callouts only answer RCPT time questions; the routing stage trusts what the MX accepted.
  const rcptLookups: RoutingLookups = config.ROUTING_BACKUP_CALLOUT
    ? {
        ...lookups,
        verifyBackupRecipient: (domain, address, hosts) => callout.verify(domain, address, hosts),
      }
    : lookups;

  const grpc = await startGrpcServer({
    host: config.ROUTING_GRPC_HOST,
    port: config.ROUTING_GRPC_PORT,
    logger,
    services: [
      {
        name: 'routing',
        definition: routingV1.RoutingServiceService,
        implementation: {
          validateRecipient: validateRecipientHandler(rcptLookups),
          explainRoute: explainRouteHandler(lookups),
        },
      },
    ],
  });
  shutdown.register('grpc', () => grpc.stop(5_000));
  logger.info({ grpcPort: grpc.port }, 'routing gRPC listening');

  const routed = new Counter({
    name: 'hermod_routing_jobs_total',
    help: 'Routing jobs by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const stage: RoutingStageDeps = {
    pool,
    lookups,
    logger,
    ourMxNames: config.ROUTING_MX_NAMES,
    srsDomain: config.ROUTING_SRS_DOMAIN,
    publishLocalDeliveries: (jobs) => publishSpoolJobs(js, subjects.localDelivery, 'local', jobs),
    publishOutbound: (jobs) => publishSpoolJobs(js, subjects.outbound, 'outbound', jobs),
  };
  const consumer = consumeJobs({
    js,
    stream: consumers.routing.stream,
    durable: consumers.routing.durable,
    parse: (data) => RoutingJob.parse(data),
    handleBatch: async (jobs) => {
      const outcomes = await routeBatch(stage, jobs);
      for (const o of outcomes) routed.inc({ outcome: o.kind });
      return outcomes;
    },
    logger,
    maxBatch: config.ROUTING_BATCH_SIZE,
    concurrency: config.ROUTING_CONCURRENCY,
  });
  shutdown.register('routing-consumer', () => consumer.stop());

  const sweeper = new SpoolSweeper({
    pool,
    logger,
    stallAfterMs: config.SPOOL_STALL_AFTER_MS,
    publishRouting: (job) => publishJob(js, subjects.routing, job),
    publishLocalDelivery: (job) => publishJob(js, subjects.localDelivery, job),
  });
  const sweeps = new PeriodicPass(
    () => sweeper.sweepOnce(),
    config.SPOOL_SWEEP_INTERVAL_MS,
    (error) => logger.warn({ err: error }, 'spool sweep failed'),
  );
  sweeps.start();
  shutdown.register('spool-sweeper', () => sweeps.stop());

  const retained = new Counter({
    name: 'hermod_storage_deleted_total',
    help: 'Rows deleted by storage retention: expired spool messages, unreferenced message bodies',
    labelNames: ['kind'],
    registers: [registry],
  });
  const retainedBytes = new Counter({
    name: 'hermod_storage_deleted_body_bytes_total',
    help: 'Bytes of the message bodies storage retention deleted',
    registers: [registry],
  });
  const retention = new StorageRetention({
    pool,
    logger,
    spoolRetentionMs: config.SPOOL_RETENTION_HOURS * 3_600_000,
  });
  const retentionPasses = new PeriodicPass(
    async () => {
      const pass = await retention.runOnce();
      retained.inc({ kind: 'spool_messages' }, pass.spoolMessages);
      retained.inc({ kind: 'bodies' }, pass.bodies);
      retainedBytes.inc(pass.bodyBytes);
    },
    config.STORAGE_RETENTION_INTERVAL_MS,
    (error) => logger.warn({ err: error }, 'storage retention pass failed'),
  );
  retentionPasses.start();
  shutdown.register('storage-retention', () => retentionPasses.stop());

  const mtaStsDefaults = {
    mxHosts: config.ROUTING_MTA_STS_MX.length > 0 ? config.ROUTING_MTA_STS_MX : config.ROUTING_MX_NAMES,
    maxAgeSeconds: config.ROUTING_MTA_STS_MAX_AGE,
  };
  const mtaSts = await startMtaStsServer({
    host: config.ROUTING_MTA_STS_HOST,
    port: config.ROUTING_MTA_STS_PORT,
    policyFor: (domain) => {
      const domainConfig = domains.get(domain);
      const policy = domainConfig && mtaStsPolicyOf(domainConfig, mtaStsDefaults);
      return policy ? renderMtaStsPolicy(policy) : undefined;
    },
    clientConfig: clientConfigHandler({
      settingsFor: (domain) => {
        const domainConfig = domains.get(domain);
        return domainConfig && clientSettingsOf(domainConfig);
      },
    }),
    logger,
  });
  shutdown.register('mta-sts', () => mtaSts.close());
  logger.info({ port: mtaSts.port }, 'MTA-STS policy server listening');

  base.readiness.push({ name: 'domain-config', check: () => true });
  await base.startOps();
  logger.info('routing ready');
});
