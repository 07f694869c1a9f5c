import { env, loadConfig } from '@hermod/config';
import { commonEnv, databaseTimeoutsEnv } from '@hermod/service-runtime';
import { z } from 'zod';

/** "5m,10m,30m,1h,2h,4h" -> milliseconds; each step is the wait after that many failed attempts. */
const durationList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const out: number[] = [];
      for (const part of value.split(',').map((s) => s.trim())) {
        const ms = parseDuration(part);
        if (ms === undefined) {
          ctx.addIssue({ code: 'custom', message: `'${part}' is not a duration such as 90s, 5m, 2h, 1d` });
          return z.NEVER;
        }
        out.push(ms);
      }
      return out;
    });

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value.trim());
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 90s, 5m, 2h, 5d' });
        return z.NEVER;
      }
      return ms;
    });

export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text);
  if (!match) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * unit;
}

const hostPortList = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const out: string[] = [];
    for (const part of value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(part)) {
        ctx.addIssue({ code: 'custom', message: `'${part}' is not HOST or HOST:PORT` });
        return z.NEVER;
      }
      out.push(part);
    }
    return out;
  });

export const outboundEnv = z.object({
  ...commonEnv,
  OPS_PORT: env.port(9104),
  DATABASE_URL: z.string().min(1, 'the PostgreSQL connection URL is required'),
  DATABASE_POOL_SIZE: env.int(10, 2, 200),
  ...databaseTimeoutsEnv,
  /** The name in EHLO and in DSNs' Reporting-MTA. */
  OUTBOUND_HELO_NAME: env.host('localhost'),
  /** DNS servers (host:port, comma separated); the system resolver when empty. */
  OUTBOUND_DNS_SERVERS: hostPortList,
  /** Port remote MX hosts are contacted on (25; tests use a loopback port). */
  OUTBOUND_SMTP_PORT: env.port(25),
  /** Wait after the 1st, 2nd, ... failed attempt; the last step repeats. */
  OUTBOUND_RETRY_SCHEDULE: durationList('5m,10m,20m,40m,80m,2h,4h'),
  /**
   * Mail we hold as a backup MX is retried at this fixed interval (instead of the schedule above),
   * so it leaves soon after the primary accepts again; its lifetime is the domain's maxHoldSeconds.
   */
  OUTBOUND_BACKUP_RETRY_INTERVAL: duration('1m'),
  OUTBOUND_MAX_LIFETIME: duration('5d'),
  OUTBOUND_DELAY_NOTICE_AFTER: duration('4h'),
  /** Concurrent SMTP connections per destination domain, per replica. */
  OUTBOUND_DESTINATION_CONCURRENCY: env.int(4, 1, 100),
  /** Concurrent SMTP connections in total, per replica. */
  OUTBOUND_CONCURRENCY: env.int(40, 1, 1_000),
  /** Messages sent over one connection before it is closed. */
  OUTBOUND_MESSAGES_PER_CONNECTION: env.int(100, 1, 10_000),
  /** How often each replica looks for due queue entries (also woken by new jobs). */
  OUTBOUND_POLL_INTERVAL: duration('1s'),
  /** An attempt not finished within this is considered dead (worker killed) and retried by any replica. */
  OUTBOUND_LEASE: duration('10m'),
  /** The TCP connect to a remote MX. */
  OUTBOUND_CONNECT_TIMEOUT: duration('30s'),
  /** The 220 greeting, EHLO and STARTTLS after the connect (RFC 5321 4.5.3.2.1: at least 5 minutes). */
  OUTBOUND_GREETING_TIMEOUT: duration('5m'),
  /**
   * Each command's reply (MAIL, RCPT, DATA) and each block of the message being taken (RFC 5321
   * 4.5.3.2.2-5: at least 5, 5, 2 and 3 minutes).
   */
  OUTBOUND_COMMAND_TIMEOUT: duration('5m'),
  /** The reply to the final dot of DATA (RFC 5321 4.5.3.2.6: at least 10 minutes). */
  OUTBOUND_FINAL_DOT_TIMEOUT: duration('10m'),
  /** PEM bundle of extra trusted CAs for verified TLS (MTA-STS, TLS required); tests use a self-signed one. */
  OUTBOUND_TLS_CA_FILE: env.optionalString(),
  /** Port of the HTTPS server serving mta-sts.<domain>/.well-known/mta-sts.txt (443; tests override). */
  OUTBOUND_MTA_STS_PORT: env.port(443),
  /**
   * DANE for SMTP (RFC 7672): TLSA records of MX hosts, DNSSEC-validated by the resolver below,
   * make TLS mandatory and pin the certificate. Needs a validating resolver reached over a trusted
   * path (loopback or the node): its AD bit is believed.
   */
  OUTBOUND_DANE: env.bool(false),
  /** The validating resolver (HOST or HOST:PORT) for DANE; unset: the first of OUTBOUND_DNS_SERVERS. */
  OUTBOUND_DANE_RESOLVER: hostPortList,
  /** SMTP reply classification rules; the bundled table when unset. */
  OUTBOUND_REPLY_RULES_FILE: env.optionalString(),
  /** From (and envelope sender) of DMARC aggregate reports; unset: no reports are sent (RFC 7489 section 7.2). */
  OUTBOUND_DMARC_REPORT_FROM: env.optionalString().pipe(z.email().optional()),
  /** org_name in DMARC aggregate reports; unset: the domain of OUTBOUND_DMARC_REPORT_FROM. */
  OUTBOUND_DMARC_REPORT_ORG: env.optionalString(),
  /** Length of a DMARC report period (aligned to the epoch): a day, as RFC 7489 asks by default; tests shorten it. */
  OUTBOUND_DMARC_REPORT_PERIOD: duration('1d'),
  /** How often ended periods are looked for and their reports sent. */
  OUTBOUND_DMARC_REPORT_INTERVAL: duration('10m'),
  /**
   * From (and envelope sender, and contact-info) of SMTP TLS reports (RFC 8460) to the rua of
   * recipient domains' `_smtp._tls` records; unset: TLS session results are neither recorded nor reported.
   */
  OUTBOUND_TLSRPT_FROM: env.optionalString().pipe(z.email().optional()),
  /** organization-name in TLS reports; unset: the domain of OUTBOUND_TLSRPT_FROM. */
  OUTBOUND_TLSRPT_ORG: env.optionalString(),
  /** Length of a TLS report period (aligned to the epoch): a day, as RFC 8460 section 4.1 asks; tests shorten it. */
  OUTBOUND_TLSRPT_PERIOD: duration('1d'),
  /** How often ended periods are looked for and their reports sent. */
  OUTBOUND_TLSRPT_INTERVAL: duration('10m'),
  /** How often each replica adds its TLS session counts to PostgreSQL. */
  OUTBOUND_TLSRPT_FLUSH_INTERVAL: duration('30s'),
});
export type OutboundConfig = z.infer<typeof outboundEnv>;

export const loadOutboundConfig = (source: NodeJS.ProcessEnv = process.env): OutboundConfig =>
  loadConfig('outbound-mta', outboundEnv, source);

/** Where DANE's validating resolver is: OUTBOUND_DANE_RESOLVER, else the first DNS server (port 53 by default). */
export function daneResolver(config: OutboundConfig): { host: string; port: number } | undefined {
  const address = config.OUTBOUND_DANE_RESOLVER[0] ?? config.OUTBOUND_DNS_SERVERS[0];
  if (!address) return undefined;
  const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(address);
  if (!match?.[1]) return undefined;
  // An IPv6 literal without brackets has colons of its own and no port.
  if (!address.startsWith('[') && address.split(':').length > 2) return { host: address, port: 53 };
  return { host: match[1], port: Number(match[2] ?? 53) };
}
