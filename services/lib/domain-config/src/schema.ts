import { PolicyRules } from '@hermod/policy-rules';
import { z } from 'zod';

/** Lower-case ASCII (A-labels for IDN) domain names: what every service compares against. */
export const domainNamePattern =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export const ExchangerMode = z.enum(['local', 'remote', 'backup', 'auto']);

export const RemoteHost = z.object({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(25),
  preference: z.number().int().min(0).max(65535).default(10),
  requireTls: z.boolean().default(false),
});

/** Who may release what is held in quarantine for this domain's recipients (docs/malware-and-quarantine.md). */
export const QuarantineSettings = z.object({
  /** The kinds recipients may release themselves from their mailbox; unset: the mx's QUARANTINE_USER_RELEASE_KINDS. */
  userReleaseKinds: z
    .array(z.enum(['malware', 'policy', 'spam']))
    .max(3)
    .optional()
    .describe(
      "The kinds of quarantined messages (malware, policy, spam) this domain's recipients may release themselves from their mailbox; unset: the mx's QUARANTINE_USER_RELEASE_KINDS (policy and spam by default).",
    ),
  /** One digest per period instead of a notice per held message; unset: the mx's QUARANTINE_DIGEST. */
  digest: z
    .boolean()
    .optional()
    .describe(
      "Tell this domain's recipients of held messages by one digest per period (the mx's QUARANTINE_DIGEST_INTERVAL_MS, a day by default) instead of a notice per message; unset: the mx's QUARANTINE_DIGEST (off by default).",
    ),
});
export type QuarantineSettings = z.infer<typeof QuarantineSettings>;

export const DomainAlias = z.object({
  /** Local part (before @); '*' is not allowed here: use catchAll. */
  source: z.string().min(1).max(64),
  destinations: z.array(z.string().min(3).max(320)).min(1),
});

/** Largest global Sieve script a domain's live config may carry (the users' own default, 64 KiB). */
export const DOMAIN_SIEVE_MAX_BYTES = 65_536;
const sieveSource = z.string().max(DOMAIN_SIEVE_MAX_BYTES);

/**
 * A domain's global Sieve scripts as its MailDomain sets them (spec.sieve). Present: the domain's
 * global scripts are exactly these (mda stores them; the CLI may not change them); absent: the CLI
 * manages them. An empty object therefore means "no global scripts", not "whatever the CLI set".
 */
export const DomainSieveScripts = z.object({
  /** Runs ahead of every user's script of the domain. */
  before: sieveSource.optional(),
  /** Runs behind it, when the implicit keep is still in effect. */
  after: sieveSource.optional(),
  /** Scripts only `include :global` reaches, by name. */
  library: z
    .array(z.object({ name: z.string().min(1).max(128), source: sieveSource }))
    .max(16)
    .default([]),
});
export type DomainSieveScripts = z.infer<typeof DomainSieveScripts>;

/**
 * The live configuration of one domain, as stored in the NATS key-value bucket. Written by the
 * operator (from a MailDomain) or by `hermod domain`; read and watched by every service.
 */
export const DomainConfig = z.object({
  domain: z.string().regex(domainNamePattern, 'expected a lower-case domain name such as example.com'),
  exchanger: ExchangerMode.default('local'),
  /** remote mode: deliver here instead of the domain's MX; backup mode: the primary's hosts. */
  remoteHosts: z.array(RemoteHost).default([]),
  aliases: z.array(DomainAlias).default([]),
  catchAll: z.string().min(3).max(320).optional(),
  subaddressSeparator: z.string().length(1).default('+'),
  backup: z
    .object({
      maxHoldSeconds: z
        .number()
        .int()
        .positive()
        .default(5 * 24 * 3600),
      recipients: z.array(z.string()).optional(),
    })
    .optional(),
  dkim: z
    .object({
      selector: z.string().min(1).max(63),
      algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']).default('rsa-sha256'),
      /** Name of the key in the DKIM key bucket; private keys never sit in this record. */
      keyRef: z.string().min(1),
    })
    .optional(),
  limits: z
    .object({
      maxMessageBytes: z.number().int().positive().optional(),
      defaultQuotaBytes: z.number().int().positive().optional(),
      outboundPerMinute: z.number().int().positive().optional(),
    })
    .default({}),
  tls: z
    .object({
      requireOutbound: z.boolean().default(false),
      mtaSts: z.enum(['none', 'testing', 'enforce']).default('none'),
      /** MX host names the MTA-STS policy names; unset: the serving service's default MX names. */
      mtaStsMx: z.array(z.string().min(1).max(253)).max(16).optional(),
    })
    .default({ requireOutbound: false, mtaSts: 'none' }),
  /** Global Sieve scripts set by a MailDomain; unset: the CLI's (`hermod sieve global`). */
  sieve: DomainSieveScripts.optional(),
  /**
   * Where users point their mail clients (autoconfiguration, RFC 6186 SRV records); unset: host
   * mail.<domain>, every service on its well-known port (see clientSettingsOf).
   */
  clients: z
    .object({
      host: z.string().min(1).max(253).optional(),
      /** Per service; 0: the service is not offered to this domain's users. */
      ports: z
        .object({
          imaps: z.number().int().min(0).max(65535),
          imap: z.number().int().min(0).max(65535),
          pop3s: z.number().int().min(0).max(65535),
          submissions: z.number().int().min(0).max(65535),
          submission: z.number().int().min(0).max(65535),
          manageSieve: z.number().int().min(0).max(65535),
        })
        .partial()
        .optional(),
    })
    .optional(),
  /** Content policy rules of mail to (inbound) and from (outbound) this domain (docs/filtering.md). */
  policyRules: PolicyRules.default([]),
  /** Recipients' own quarantine releases (unset: the mx's settings). */
  quarantine: QuarantineSettings.optional(),
  /** Who wrote it, for `hermod domain list` and status: 'cli' or 'operator:<namespace>/<name>'. */
  source: z.string().default('cli'),
  /** The MailDomain generation this record reflects (0 when written by the CLI). */
  generation: z.number().int().nonnegative().default(0),
  updatedAt: z.string().default(() => new Date().toISOString()),
});
export type DomainConfig = z.infer<typeof DomainConfig>;

/** Parses a record, naming the bad field in the error. */
export function parseDomainConfig(value: unknown): DomainConfig {
  const result = DomainConfig.safeParse(value);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new Error(`invalid domain config: ${detail}`);
}
