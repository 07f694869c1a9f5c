import { hostname } from 'node:os';
import { env, loadConfig } from '@hermod/config';
import { malwareScanEnv } from '@hermod/content-scan';
import { policyRulesEnv } from '@hermod/policy-rules';
import { commonEnv, databaseTimeoutsEnv, servesWithoutBusEnv, tlsSniEnv } from '@hermod/service-runtime';
import { z } from 'zod';

const hostPort = z.string().regex(/^[0-9a-fA-F:.[\]]+:\d{1,5}$/, 'expected host:port such as 127.0.0.1:53');
const dnsZone = z.string().regex(/^[a-z0-9.-]+$/i, 'expected a DNS zone such as zen.example.org');

export const mxEnv = z.object({
  ...commonEnv,
  ...servesWithoutBusEnv,
  OPS_PORT: env.port(9102),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(20, 1, 500),
  ...databaseTimeoutsEnv,
  /**
   * Concurrent accept transactions; messages arriving meanwhile are committed together (group
   * commit). Fewer means larger groups and less database CPU per message; more lets a large
   * message's write overlap with others.
   */
  MX_ACCEPT_TRANSACTIONS: env.int(4, 1, 100),
  MX_HOST: env.host('0.0.0.0'),
  /** Plain SMTP with STARTTLS (25 in production). */
  MX_SMTP_PORT: env.port(25),
  /** A second listener that expects a PROXY protocol v1 or v2 header first (behind a load balancer); 0 = off. */
  MX_PROXY_PORT: env.port(0),
  /** Peers (CIDRs) whose PROXY headers are believed on MX_PROXY_PORT; others are refused. Empty: any peer. */
  MX_PROXY_TRUSTED_CIDRS: env.list([]),
  MX_HOSTNAME: env.string(hostname()),
  /** Words after 'ESMTP' in the greeting (smtp-server writes '220 <MX_HOSTNAME> ESMTP <MX_BANNER>'). */
  MX_BANNER: env.string('Hermod'),
  /** STARTTLS is offered only when both are set. */
  TLS_CERT_FILE: env.optionalString(),
  TLS_KEY_FILE: env.optionalString(),
  ...tlsSniEnv,
  MX_MAX_MESSAGE_BYTES: env.int(50 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  MX_MAX_RECIPIENTS: env.int(100, 1, 10_000),
  /**
   * Where RCPT TO:<Postmaster> without a domain goes (RFC 5321 4.5.1); empty means postmaster@ the
   * domain of MX_HOSTNAME without its first label (mx.example.com: postmaster@example.com). It is
   * then checked and routed like any recipient, so it must exist (an account or an alias).
   */
  MX_POSTMASTER_ADDRESS: env.optionalString(),
  /** Longest command line; a longer one ends the session (a flood without newlines never grows memory). */
  MX_MAX_LINE_LENGTH: env.int(4_096, 512, 1024 * 1024),
  /** More Received fields than this is a mail loop: 554 5.4.6. */
  MX_MAX_RECEIVED: env.int(50, 1, 1_000),
  /**
   * Refusals (replies of 400 or more) in one session; the one that reaches it is followed by
   * 421 4.7.0 and the end of the session, like Postfix's smtpd_hard_error_limit. Bounds recipient
   * guessing (a directory harvest) in one connection. 0 = no limit.
   */
  MX_MAX_ERRORS: env.int(20, 0, 100_000),
  MX_MAX_CLIENTS: env.int(1_000, 1, 100_000),
  MX_MAX_CONNECTIONS_PER_IP: env.int(20, 1, 100_000),
  /** Messages per client IP per minute; over it MAIL FROM gets 450 4.7.1. */
  MX_RATE_LIMIT_PER_MINUTE: env.int(600, 1, 10_000_000),
  MX_SOCKET_TIMEOUT_MS: env.int(300_000, 1_000, 3_600_000),
  /** reject: 550 5.6.0 for a message with a bare CR or LF; normalise: rewrite them to CRLF. */
  MX_BARE_LINE_ENDINGS: z.enum(['reject', 'normalise']).default('reject'),
  /** SPF, DKIM, DMARC and ARC verification (mailauth). */
  MX_AUTH_CHECKS: env.bool(true),
  /** Enforce the sender domain's DMARC policy: reject -> 550 5.7.1, quarantine -> Junk. */
  MX_DMARC_ENFORCE: env.bool(true),
  /** Record every DMARC evaluation for the aggregate reports outbound-mta sends (RFC 7489 section 7.2). */
  MX_DMARC_REPORTS: env.bool(true),
  /** DNS servers (host:port) for SPF/DKIM/DMARC/DNSBL; empty = the system resolver. */
  MX_DNS_SERVERS: env.list([]).pipe(z.array(hostPort)),
  MX_DNS_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  /** How long DNS answers (and NXDOMAIN/NODATA) are reused; 0 = no cache. */
  MX_DNS_CACHE_MS: env.int(60_000, 0, 3_600_000),
  /** How long routing's answer for an accepted recipient is remembered; forgotten at once when any domain's config or status changes (0 asks routing every time). */
  MX_RECIPIENT_CACHE_MS: env.int(5_000, 0, 600_000),
  /** DNSBL zones; a client listed in any of them is refused with 554 5.7.1. */
  MX_DNSBL_ZONES: env.list([]).pipe(z.array(dnsZone)),
  /** Rspamd's normal worker (e.g. http://127.0.0.1:11333); empty = no spam scoring. */
  RSPAMD_URL: z.union([z.literal(''), z.url()]).default(''),
  RSPAMD_TIMEOUT_MS: env.int(15_000, 100, 120_000),
  /** Rspamd unreachable: open = accept unscored, tempfail = 451 4.7.1. */
  RSPAMD_FAIL_MODE: z.enum(['open', 'tempfail']).default('tempfail'),
  ...policyRulesEnv,
  ...malwareScanEnv,
  /** An infected message: reject = 554 5.7.1 naming the signature; quarantine = accepted and held (hermod quarantine). */
  MX_MALWARE_ACTION: z.enum(['reject', 'quarantine']).default('reject'),
  /** How long quarantined messages are kept before the expiry sweep deletes them. */
  QUARANTINE_RETENTION_DAYS: env.int(30, 1, 3650),
  /** How often each replica sweeps quarantined messages past their retention (every expired entry goes in a sweep). */
  QUARANTINE_EXPIRY_SWEEP_MS: env.int(15 * 60_000, 100, 86_400_000),
  /** The kinds recipients may release themselves from their mailbox (a keyword or folder on the notice); admins release any. */
  QUARANTINE_USER_RELEASE_KINDS: env
    .list(['policy', 'spam'])
    .pipe(z.array(z.enum(['malware', 'policy', 'spam']))),
  /** How often the recipients' quarantine actions (release, delete from the mailbox) are taken up. */
  QUARANTINE_ACTION_POLL_MS: env.int(5_000, 100, 600_000),
  /** Tell recipients of held messages by one digest per period instead of a notice per message (a domain's quarantine.digest overrides it). */
  QUARANTINE_DIGEST: env.bool(false),
  /** The digest's period: one digest per recipient per period, listing what was held since the last one (a day; the tests use seconds). */
  QUARANTINE_DIGEST_INTERVAL_MS: env.int(86_400_000, 1_000, 30 * 86_400_000),
  /** Where periods start, from midnight UTC: 25200000 sends daily digests at 07:00 UTC. Below the interval. */
  QUARANTINE_DIGEST_OFFSET_MS: env.int(0, 0, 30 * 86_400_000),
  /** How often each replica checks for digests due (the period's end is found at most this late). */
  QUARANTINE_DIGEST_POLL_MS: env.int(60_000, 100, 3_600_000),
  ROUTING_GRPC_ADDRESS: env.string('127.0.0.1:7001'),
  ROUTING_TIMEOUT_MS: env.int(5_000, 100, 60_000),
});
export type MxConfig = z.infer<typeof mxEnv>;

export const loadMxConfig = (source: NodeJS.ProcessEnv = process.env): MxConfig =>
  loadConfig('mx', mxEnv, source);
