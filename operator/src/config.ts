import { env, loadConfig } from '@hermod/config';
import { commonEnv, databaseTimeoutsEnv } from '@hermod/service-runtime';
import { z } from 'zod';

export const operatorEnv = z.object({
  ...commonEnv,
  OPS_PORT: env.port(9107),
  /** Path of a kubeconfig; unset: in-cluster service account (or ~/.kube/config). */
  KUBECONFIG: env.optionalString(),
  /** Reconcile only this namespace (install with a Role); unset: all namespaces. */
  WATCH_NAMESPACE: env.optionalString(),
  /** This replica's name (the Downward API's metadata.name); default: host name and pid. */
  POD_NAME: env.optionalString(),
  POD_NAMESPACE: env.optionalString(),
  LEADER_ELECTION: env.bool(true),
  /** Namespace of the leader Lease; default POD_NAMESPACE, else the pod's own (service-account mount), else WATCH_NAMESPACE, else default. */
  LEADER_ELECTION_NAMESPACE: env.optionalString(),
  LEADER_ELECTION_LEASE: env.string('hermod-operator'),
  LEASE_DURATION_MS: env.int(8_000, 1_000, 300_000),
  RENEW_DEADLINE_MS: env.int(5_000, 500, 300_000),
  RETRY_PERIOD_MS: env.int(1_500, 100, 60_000),
  WORKERS: env.int(4, 1, 64),
  /** Concurrent MailUser and MailGroup reconciles: each mostly waits on the API server and PostgreSQL (the pool is shared, DATABASE_POOL_SIZE). */
  ACCOUNT_WORKERS: env.int(16, 1, 256),
  /** Events of MailUsers and MailGroups per second at most (burst ACCOUNT_EVENT_BURST); more are dropped and counted (hermod_operator_events_dropped_total), so a bulk apply does not double the API server's writes. */
  ACCOUNT_EVENT_RATE: env.int(10, 1, 10_000),
  ACCOUNT_EVENT_BURST: env.int(100, 1, 100_000),
  RESYNC_PERIOD_MS: env.int(10 * 60_000, 1_000, 24 * 3_600_000),
  MAX_BACKOFF_MS: env.int(5 * 60_000, 100, 3_600_000),
  /** Our MX host names, published as the MX records a domain should have (spec.dns.mxHosts overrides). */
  HERMOD_MX_HOSTS: env.list([]),
  /** Host name the autoconfig.<domain> and autodiscover.<domain> CNAMEs point at (the Ingress in front of routing's HTTP listener); unset: they are not listed. */
  HERMOD_AUTOCONFIG_HOST: env.optionalString(),
  DNS_VERIFY: env.bool(true),
  /** Resolvers for DNS verification as host or host:port; unset: the system's. */
  DNS_SERVERS: env.list([]),
  DNS_TIMEOUT_MS: env.int(2_000, 100, 60_000),
  DNS_RECHECK_MS: env.int(5 * 60_000, 1_000, 24 * 3_600_000),
  /** No MailDomain gets a new DKIM key sooner than this after its previous one (a runaway guard). */
  DKIM_KEY_MIN_INTERVAL_MS: env.int(5_000, 0, 24 * 3_600_000),
  /** The accounts store (PostgreSQL): with it, MailUser and MailGroup are reconciled; unset: only MailDomain. */
  DATABASE_URL: env.optionalString(),
  DATABASE_POOL_SIZE: env.int(8, 1, 100),
  ...databaseTimeoutsEnv,
  /** How often a MailUser's mailbox usage in status is refreshed. */
  USAGE_REFRESH_MS: env.int(5 * 60_000, 1_000, 24 * 3_600_000),
});
export type OperatorConfig = z.infer<typeof operatorEnv>;

export const loadOperatorConfig = (source: NodeJS.ProcessEnv = process.env): OperatorConfig =>
  loadConfig('operator', operatorEnv, source);
