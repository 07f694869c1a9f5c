import { loginThrottleEnv, oidcEnv } from '@hermod/accounts';
import { env } from '@hermod/config';
import { commonEnv, databaseTimeoutsEnv, servesWithoutBusEnv, tlsSniEnv } from '@hermod/service-runtime';
import { z } from 'zod';

/** Environment of the imap service (IMAP and POP3 listeners, limits). */
export const imapEnv = z.object({
  ...commonEnv,
  ...servesWithoutBusEnv,
  OPS_PORT: env.port(9106),
  DATABASE_URL: z.string().min(1),
  DATABASE_POOL_SIZE: env.int(20, 1, 500),
  ...databaseTimeoutsEnv,
  IMAP_HOST: env.host('0.0.0.0'),
  IMAP_PORT: env.port(2143),
  IMAPS_PORT: env.port(2993),
  /** IMAP (STARTTLS) behind a load balancer: a PROXY protocol v1/v2 header comes first; 0 = off. */
  IMAP_PROXY_PORT: env.port(0),
  /** IMAPS behind a load balancer: the PROXY header, then the TLS handshake; 0 = off. */
  IMAPS_PROXY_PORT: env.port(0),
  /** Peers (CIDRs) whose PROXY headers are believed on the PROXY ports; others are refused. Empty: any peer. */
  IMAP_PROXY_TRUSTED_CIDRS: env.list([]),
  POP3_PORT: env.port(2110),
  POP3S_PORT: env.port(2995),
  /** ManageSieve (RFC 5804, STARTTLS): users upload and activate their Sieve filters here. */
  MANAGESIEVE_PORT: env.port(4190),
  /** Listeners to open; a port set to 'off' is not possible with numbers, so this lists the enabled ones. */
  IMAP_LISTENERS: env.list(['imap', 'imaps', 'pop3', 'pop3s', 'managesieve']),
  IMAP_HOSTNAME: env.string('localhost'),
  TLS_CERT_FILE: env.optionalString(),
  TLS_KEY_FILE: env.optionalString(),
  ...tlsSniEnv,
  /** Allow LOGIN/AUTHENTICATE/USER without TLS (tests of old clients only). */
  IMAP_ALLOW_PLAINTEXT_AUTH: env.bool(false),
  IMAP_LITERAL_MINUS: env.bool(false),
  IMAP_MAX_LINE_LENGTH: env.int(65_536, 1_024, 10_485_760),
  IMAP_MAX_LITERAL_SIZE: env.int(1_048_576, 1_024, 104_857_600),
  IMAP_APPEND_LIMIT: env.int(52_428_800, 1_024, 1_073_741_824),
  /** Longest METADATA value (RFC 5464) in bytes; longer ones get NO [METADATA MAXSIZE n]. */
  IMAP_METADATA_MAX_SIZE: env.int(65_536, 1, 10_485_760),
  /** Most METADATA entries per account (its private ones and the shared ones of its mailboxes). */
  IMAP_METADATA_MAX_ENTRIES: env.int(1_000, 1, 1_000_000),
  /** NOTIFY (RFC 5465): change events one session may have waiting; more end its NOTIFY with NOTIFICATIONOVERFLOW. */
  IMAP_NOTIFY_MAX_QUEUE: env.int(1_000, 1, 1_000_000),
  IMAP_NESTING_BEFORE_LOGIN: env.int(2, 1, 100),
  IMAP_NESTING_AFTER_LOGIN: env.int(16, 1, 1000),
  IMAP_MIME_MAX_DEPTH: env.int(100, 1, 1000),
  IMAP_MIME_MAX_PARTS: env.int(10_000, 1, 1_000_000),
  IMAP_MAX_CONNECTIONS_PER_IP: env.int(200, 1, 1_000_000),
  IMAP_MAX_CONNECTIONS_PER_USER: env.int(50, 1, 1_000_000),
  IMAP_IDLE_TIMEOUT_MS: env.int(30 * 60_000, 1_000),
  IMAP_IDLE_COMMAND_TIMEOUT_MS: env.int(35 * 60_000, 1_000),
  /**
   * POP3 autologout (RFC 1939 3: at least 10 minutes; shorter only in tests): the connection is
   * closed without a response and without entering UPDATE.
   */
  POP3_IDLE_TIMEOUT_MS: env.int(10 * 60_000, 1_000),
  IMAP_MAX_AUTH_FAILURES: env.int(3, 1, 100),
  ...loginThrottleEnv,
  ...oidcEnv,
  /** Largest Sieve script a user may store, in bytes (PUTSCRIPT answers NO (QUOTA/MAXSIZE) above it). */
  SIEVE_MAX_SCRIPT_BYTES: env.int(65_536, 1_024, 10_485_760),
  /** Most Sieve scripts one account may hold (NO (QUOTA/MAXSCRIPTS) above it). */
  SIEVE_MAX_SCRIPTS: env.int(16, 1, 1_000),
  /** Deepest nesting of blocks and tests a script may have. */
  SIEVE_MAX_NESTING: env.int(32, 2, 256),
  /** Most redirects one script run may make (advertised as MAXREDIRECTS; mda enforces its own setting). */
  SIEVE_MAX_REDIRECTS: env.int(4, 0, 64),
});
export type ImapConfig = z.infer<typeof imapEnv>;
