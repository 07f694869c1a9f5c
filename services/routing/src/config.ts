import { env, loadConfig } from '@hermod/config';
import { commonEnv, databaseTimeoutsEnv } from '@hermod/service-runtime';
import { z } from 'zod';

export const routingEnv = z.object({
  ...commonEnv,
  OPS_PORT: env.port(9103),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(10, 1, 200),
  ...databaseTimeoutsEnv,
  ROUTING_GRPC_HOST: env.host('0.0.0.0'),
  ROUTING_GRPC_PORT: env.port(7001),
  /** How often the spool sweeper looks for stalled work, and how old work must be to be re-published. */
  SPOOL_SWEEP_INTERVAL_MS: env.int(5_000, 100, 3_600_000),
  SPOOL_STALL_AFTER_MS: env.int(30_000, 500, 86_400_000),
  /** Completed spool messages (envelope, recipients' outcomes) are kept this long; 0 keeps them forever. */
  SPOOL_RETENTION_HOURS: env.int(168, 0, 87_600),
  /** How often expired spool messages and unreferenced message bodies are deleted. */
  STORAGE_RETENTION_INTERVAL_MS: env.int(600_000, 100, 86_400_000),
  ROUTING_BATCH_SIZE: env.int(64, 1, 1_000),
  /**
   * Routing batches in flight at once. One is the default: jobs arriving while a batch commits form
   * the next batch, so under load each batch is larger and costs fewer statements per message.
   */
  ROUTING_CONCURRENCY: env.int(1, 1, 64),
  /** Our own MX host names: auto mode compares a domain's MX records with them; backup never relays to them. */
  ROUTING_MX_NAMES: env.list([]).pipe(z.array(z.string().regex(/^[a-z0-9.-]+$/i, 'expected host names'))),
  /** DNS servers (host:port) for auto mode's MX lookups; empty = the system resolver. */
  ROUTING_DNS_SERVERS: env
    .list([])
    .pipe(z.array(z.string().regex(/^[0-9a-fA-F:.[\]]+:\d{1,5}$/, 'expected host:port'))),
  /** How often auto-mode domains' MX records are evaluated again. */
  ROUTING_AUTO_INTERVAL_MS: env.int(60_000, 100, 86_400_000),
  /** HMAC secret for SRS addresses of forwarded mail; forwarding keeps the original sender when empty. */
  ROUTING_SRS_SECRET: z.string().default(''),
  /** The domain SRS addresses are issued in; the forwarding domain itself when empty. */
  ROUTING_SRS_DOMAIN: z.string().default(''),
  ROUTING_MAX_ALIAS_DEPTH: env.int(10, 1, 100),
  /**
   * Backup domains without a recipient list verify each recipient with the primary at RCPT time
   * (SMTP callout, no message sent): unknown users are refused instead of held and bounced later.
   */
  ROUTING_BACKUP_CALLOUT: env.bool(true),
  /** Port of the primary's MX hosts for callouts (25; tests use a loopback port). */
  ROUTING_CALLOUT_PORT: env.port(25),
  /** Budget of one callout, kept below the MX's ROUTING_TIMEOUT_MS; no answer in time = accept and hold. */
  ROUTING_CALLOUT_TIMEOUT_MS: env.int(3_000, 100, 60_000),
  /** How long a callout verdict (accepted or refused) is reused. */
  ROUTING_CALLOUT_CACHE_MS: env.int(600_000, 0, 86_400_000),
  /** Plain-HTTP listener serving our domains' MTA-STS policies (mta-sts.<domain>, TLS at the Ingress). */
  ROUTING_MTA_STS_HOST: env.host('0.0.0.0'),
  ROUTING_MTA_STS_PORT: env.port(8080),
  /** MX names an MTA-STS policy lists for domains that do not set their own (tls.mtaStsMx); empty: ROUTING_MX_NAMES. */
  ROUTING_MTA_STS_MX: env
    .list([])
    .pipe(z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+$/i, 'expected host names'))),
  /** max_age of the served MTA-STS policies, in seconds (RFC 8461: at most 31557600). */
  ROUTING_MTA_STS_MAX_AGE: env.int(604_800, 86_400, 31_557_600),
});
export type RoutingConfig = z.infer<typeof routingEnv>;

export const loadRoutingConfig = (source: NodeJS.ProcessEnv = process.env): RoutingConfig =>
  loadConfig('routing', routingEnv, source);
