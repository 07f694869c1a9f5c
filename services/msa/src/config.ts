import { hostname } from 'node:os';
import { loginThrottleEnv, oidcEnv } from '@hermod/accounts';
import { env, loadConfig } from '@hermod/config';
import { malwareScanEnv } from '@hermod/content-scan';
import { policyRulesEnv } from '@hermod/policy-rules';
import { commonEnv, databaseTimeoutsEnv, servesWithoutBusEnv, tlsSniEnv } from '@hermod/service-runtime';
import { z } from 'zod';

const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'expected CIDR notation such as 10.0.0.0/8');

export const msaEnv = z.object({
  ...commonEnv,
  ...servesWithoutBusEnv,
  OPS_PORT: env.port(9101),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(20, 1, 500),
  ...databaseTimeoutsEnv,
  /**
   * Concurrent accept commits; messages reaching end of DATA meanwhile are committed together
   * (group commit). Fewer means larger groups and less database CPU per message; more lets a large
   * message's write overlap with others.
   */
  MSA_ACCEPT_TRANSACTIONS: env.int(4, 1, 100),
  MSA_HOST: env.host('0.0.0.0'),
  /** STARTTLS submission (587 in production). */
  MSA_SUBMISSION_PORT: env.port(587),
  /** Implicit-TLS submission (465 in production). */
  MSA_SUBMISSIONS_PORT: env.port(465),
  /** STARTTLS submission behind a load balancer: a PROXY protocol v1/v2 header comes first; 0 = off. */
  MSA_PROXY_SUBMISSION_PORT: env.port(0),
  /** Implicit-TLS submission behind a load balancer: the PROXY header, then the TLS handshake; 0 = off. */
  MSA_PROXY_SUBMISSIONS_PORT: env.port(0),
  /** Peers (CIDRs) whose PROXY headers are believed on the PROXY ports; others are refused. Empty: any peer. */
  MSA_PROXY_TRUSTED_CIDRS: env.list([]),
  MSA_HOSTNAME: env.string(hostname()),
  TLS_CERT_FILE: z.string().min(1, 'a PEM certificate file is required (submission only runs over TLS)'),
  TLS_KEY_FILE: z.string().min(1, 'a PEM private key file is required'),
  ...tlsSniEnv,
  MSA_MAX_MESSAGE_BYTES: env.int(25 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  MSA_MAX_RECIPIENTS: env.int(100, 1, 10_000),
  ...policyRulesEnv,
  /**
   * Per-account limits (0: none). Messages (MAIL FROM) and recipients (RCPT TO tried) per clock hour
   * are counted in PostgreSQL across replicas: over them MAIL gets 451 4.7.1 and RCPT 452 4.5.3.
   * Authenticated sessions at once are counted per replica: over it AUTH gets 454 4.7.0.
   */
  MSA_ACCOUNT_MESSAGES_PER_HOUR: env.int(0, 0, 1_000_000),
  MSA_ACCOUNT_RECIPIENTS_PER_HOUR: env.int(0, 0, 10_000_000),
  MSA_ACCOUNT_MAX_SESSIONS: env.int(0, 0, 100_000),
  /**
   * Compromised-account containment: an account whose submissions the hourly recipient limit cuts
   * short this many times (transactions, counted across replicas) within MSA_SUSPEND_WINDOW_MS is
   * suspended from sending (550 5.7.1) until an operator lifts it (hermod user unsuspend); its
   * owner gets a notice. 0 never suspends. Accounts and domains can be exempted (hermod user limits
   * --auto-suspend off). The three limits above can be overridden per account and per domain.
   */
  MSA_SUSPEND_AFTER_LIMIT_HITS: env.int(10, 0, 100_000),
  MSA_SUSPEND_WINDOW_MS: env.int(86_400_000, 60_000, 30 * 86_400_000),
  /**
   * Where RCPT TO:<Postmaster> without a domain goes (RFC 5321 4.5.1); empty means postmaster@ the
   * domain of MSA_HOSTNAME without its first label. Checked and routed like any recipient.
   */
  MSA_POSTMASTER_ADDRESS: env.optionalString(),
  /**
   * Longest command line (RFC 5321 4.5.3.1.4 asks for at least 512 octets; an AUTH line with an
   * initial response, such as an XOAUTH2 token, may take 12,288 under RFC 4954 4). A longer one gets
   * 421 4.4.2 and ends the session, so a flood without newlines never grows memory.
   */
  MSA_MAX_LINE_LENGTH: env.int(16_384, 512, 1024 * 1024),
  /**
   * Refusals (replies of 400 or more) in one session; the one that reaches it is followed by
   * 421 4.7.0 and the end of the session, like Postfix's smtpd_hard_error_limit. 0 = no limit.
   */
  MSA_MAX_ERRORS: env.int(20, 0, 100_000),
  MSA_MAX_CLIENTS: env.int(1_000, 1, 100_000),
  MSA_SOCKET_TIMEOUT_MS: env.int(300_000, 1_000, 3_600_000),
  /** Networks whose clients may submit without AUTH (for example an internal relay); empty by default. */
  MSA_TRUSTED_NETWORKS: env.list([]).pipe(z.array(cidr)),
  ...loginThrottleEnv,
  ...oidcEnv,
  /** Submitted mail is scanned like inbound: an infected submission gets 554 5.7.1 naming the signature. */
  ...malwareScanEnv,
  /** Rspamd's normal worker for the outbound check of submissions (the User header names the sender); empty = none. A reject is refused 554 5.7.1. */
  RSPAMD_URL: z.union([z.literal(''), z.url()]).default(''),
  RSPAMD_TIMEOUT_MS: env.int(15_000, 100, 120_000),
  /** Rspamd unreachable for a submission: open = accept unchecked, tempfail = 451 4.7.1. */
  RSPAMD_FAIL_MODE: z.enum(['open', 'tempfail']).default('tempfail'),
  ROUTING_GRPC_ADDRESS: env.string('127.0.0.1:7001'),
  ROUTING_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  /** How long routing's answer for an accepted recipient is remembered; forgotten at once when any domain's config or status changes (0 asks routing every time). */
  MSA_RECIPIENT_CACHE_MS: env.int(5_000, 0, 300_000),
});
export type MsaConfig = z.infer<typeof msaEnv>;

export const loadMsaConfig = (source: NodeJS.ProcessEnv = process.env): MsaConfig =>
  loadConfig('msa', msaEnv, source);
