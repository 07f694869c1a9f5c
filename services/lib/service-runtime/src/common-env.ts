import { env } from '@hermod/config';
import { z } from 'zod';

/** Variables every service reads; each service extends this with its own. */
export const commonEnv = {
  /** Log level of the JSON logs on stdout. */
  LOG_LEVEL: env.logLevel(),
  /** Address of the operations HTTP endpoint (/healthz, /readyz, /metrics). */
  OPS_HOST: env.host('0.0.0.0'),
  /** Port of the operations HTTP endpoint. */
  OPS_PORT: env.port(9090),
  /** NATS server URL(s), comma separated. */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Replicas of the JetStream streams and buckets this service creates (3 in a NATS cluster). */
  NATS_STREAM_REPLICAS: env.int(1, 1, 5),
  /**
   * How long SIGTERM waits for in-flight work before exiting anyway. Up to an hour: outbound-mta's
   * must cover the wait for the reply to a final dot (10 min by RFC 5321 4.5.3.2.6).
   */
  SHUTDOWN_GRACE_MS: env.int(25_000, 0, 3_600_000),
};

/**
 * Variables of the services that keep serving their clients without nats-server (msa and mx accept
 * into the spool, imap reads the database).
 */
export const servesWithoutBusEnv = {
  /**
   * Whether /readyz stays 200 while nats-server cannot be reached (reported under `degraded`).
   * Off: not ready with the reason, as for any dependency. On: the replica stays in its load
   * balancer and keeps accepting into the spool; the sweeper hands mail over once the bus is back.
   */
  READY_WITHOUT_NATS: env.bool(false),
};

/** Per-host certificates of the mail listeners (msa, mx, imap), chosen by the client's server name. */
export const tlsSniEnv = {
  /**
   * Directory of per-host certificates, one subfolder per host name holding tls.crt and tls.key
   * (`*.example.com` for a one-label wildcard); a handshake naming a host gets its certificate,
   * others get TLS_CERT_FILE. Each pair is read again when it changes, without a restart.
   */
  TLS_SNI_DIR: env.optionalString(),
  /** Most host certificates loaded from TLS_SNI_DIR; further folders are logged and skipped. */
  TLS_SNI_MAX_HOSTS: env.int(100, 1, 10_000),
};

/** The limits on one statement of a service's PostgreSQL pool (createPool); with DATABASE_URL. */
export const databaseTimeoutsEnv = {
  /**
   * PostgreSQL's statement_timeout for the pool's sessions: the server ends a statement running
   * longer (the session stays usable).
   */
  DATABASE_STATEMENT_TIMEOUT_MS: env.int(30_000, 100, 3_600_000),
  /**
   * How long a query waits for the server's answer before the service gives up on it (must be
   * above DATABASE_STATEMENT_TIMEOUT_MS): a frozen PostgreSQL or a silent network cannot enforce
   * the server's timeout. The session is then discarded and the client gets its protocol's
   * temporary reply (IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP], SMTP 4xx, ManageSieve TRYLATER).
   */
  DATABASE_QUERY_TIMEOUT_MS: env.int(35_000, 200, 3_600_000),
};
