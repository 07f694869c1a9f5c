// The MailDomain API (mail.hermod.dev/v1alpha1). This file is the ONE source of the resource's shape:
// the TypeScript types, the parser the reconciler uses, and (through src/crd/generate.ts) the CRD's
// structural OpenAPI schema with its defaults, enums, patterns, CEL rules and `kubectl explain` text.
import { QuarantineSettings } from '@hermod/domain-config';
import { PolicyRules } from '@hermod/policy-rules';
import { z } from 'zod';
import { parseQuantity } from '../../controller/units.js';

export const GROUP = 'mail.hermod.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'MailDomain';
export const PLURAL = 'maildomains';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The ownerReference that makes a MailDomain the controller of an object (a DKIM Secret, a DNSEndpoint). */
export const controllerReference = (md: { metadata: { name: string; uid?: string | undefined } }) => ({
  apiVersion: API_VERSION,
  kind: KIND,
  name: md.metadata.name,
  uid: md.metadata.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

/** CEL rules on a schema node (x-kubernetes-validations). */
export type CelRule = { rule: string; message: string; fieldPath?: string; reason?: string };
export const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

// The same language as domainNamePattern in @hermod/domain-config, without its look-ahead: the API
// server checks patterns with Go's RE2, which has none (maxLength does the length part).
export const crdDomainPattern = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

// Go-style durations as Kubernetes users write them (90s, 15m, 48h, 2160h).
const duration = z
  .string()
  .regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/, 'expected a duration such as 48h or 90m');
// Quantities in the Kubernetes style (25Mi, 1Gi, 500000), within bounds the API server checks at
// apply time (CEL's quantity library) and the parser checks the same way, so nothing the API
// server accepts is refused by the operator later.
export const boundedQuantity = (min: string, max: string) => {
  const message = `must be between ${min} and ${max}`;
  return z
    .string()
    .max(32)
    .regex(/^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'expected a size such as 25Mi or 1Gi')
    .refine((v) => {
      const bytes = parseQuantity(v);
      return bytes >= parseQuantity(min) && bytes <= parseQuantity(max);
    }, message)
    .meta(
      cel({
        rule: `!isQuantity(self) || (quantity(self).compareTo(quantity('${min}')) >= 0 && quantity(self).compareTo(quantity('${max}')) <= 0)`,
        message,
      }),
    );
};
/** Limits of spec.limits, in one place (docs/operator.md quotes them). */
export const sizeLimits = {
  maxMessageSize: { min: '1Ki', max: '2Gi' },
  defaultQuota: { min: '1Mi', max: '1024Ti' },
} as const;
/** A Sieve script in a MailDomain; compiled by the operator before it is applied (errors in status). */
const sieveScript = z.string().max(65_536);
const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/,
  );
const clientPort = z.int().min(0).max(65535).optional();
export const address = z
  .string()
  .min(3)
  .max(320)
  .regex(/^[^@\s]+@[^@\s]+$/);

export const MailHost = z
  .object({
    host: hostName.describe('Host name or IP literal ([192.0.2.1]) of the SMTP server.'),
    port: z.int().min(1).max(65535).default(25).describe('SMTP port.'),
    preference: z
      .int()
      .min(0)
      .max(65535)
      .default(10)
      .describe('Lower is tried first, as with MX preference.'),
    requireTls: z.boolean().default(false).describe('Refuse to deliver to this host without STARTTLS.'),
  })
  .describe('An SMTP server to relay to.');

export const MailDomainSpec = z
  .object({
    domain: z
      .string()
      .max(253)
      .regex(crdDomainPattern)
      .describe(
        'The mail domain, lower-case (A-labels for international names), e.g. example.com. Immutable.',
      )
      .meta(
        cel({ rule: 'self == oldSelf', message: 'domain is immutable; create a new MailDomain instead' }),
      ),
    exchanger: z
      .enum(['local', 'remote', 'backup', 'auto'])
      .default('local')
      .describe(
        'Where mail for the domain goes. local: delivered to local mailboxes. remote: relayed to the domain MX (or spec.remote.hosts), ' +
          'never delivered locally. backup: we are a secondary MX that holds mail for spec.backup.primary. ' +
          'auto: decided continuously from live MX records (see status.effectiveExchanger).',
      ),
    remote: z
      .object({
        hosts: z
          .array(MailHost)
          .max(16)
          .default([])
          .describe(
            'Relay to these hosts instead of looking up the domain MX records. Empty: use MX records.',
          ),
      })
      .optional()
      .describe('Settings for exchanger remote (and auto when it resolves to remote).'),
    backup: z
      .object({
        primary: z
          .array(MailHost)
          .min(1)
          .max(16)
          .describe('The primary exchanger(s) held mail is relayed to.'),
        maxHoldDuration: duration
          .default('120h')
          .describe('Give up relaying to the primary after this long (then bounce).'),
      })
      .optional()
      .describe('Settings for exchanger backup.'),
    dkim: z
      .object({
        enabled: z.boolean().default(true).describe('Sign outgoing mail of this domain with DKIM.'),
        selectorPrefix: z
          .string()
          .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/)
          .default('hermod')
          .describe('Selectors are <selectorPrefix>-<suffix>; a new one is made at every rotation.'),
        algorithm: z.enum(['rsa-2048', 'ed25519']).default('rsa-2048').describe('Key type of new keys.'),
        rotationPeriod: duration
          .optional()
          .describe(
            'Make a new key this long after the current one became active (e.g. 2160h). Unset: never rotate.',
          ),
        publishLeadTime: duration
          .default('48h')
          .describe(
            'How long a new selector is published in status (for DNS) before signing switches to it.',
          ),
      })
      .default({ enabled: true, selectorPrefix: 'hermod', algorithm: 'rsa-2048', publishLeadTime: '48h' })
      .describe('DKIM signing keys: generated into a Secret <name>-dkim owned by this MailDomain.')
      .meta(
        cel({
          rule: '!has(self.rotationPeriod) || duration(self.publishLeadTime) < duration(self.rotationPeriod)',
          message: 'publishLeadTime must be shorter than rotationPeriod',
          fieldPath: '.publishLeadTime',
        }),
      ),
    aliases: z
      .array(
        z
          .object({
            source: z
              .string()
              .min(1)
              .max(64)
              .regex(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/)
              .describe('Local part (before the @) that is an alias.'),
            destinations: z.array(address).min(1).max(100).describe('Full addresses the alias delivers to.'),
          })
          .describe('One alias: a local part and where its mail goes.'),
      )
      .max(10_000)
      .default([])
      .describe('Aliases of this domain.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['source'] }),
    catchAll: address
      .optional()
      .describe('Address that receives mail for unknown local parts. Unset: refuse them.'),
    subaddressSeparator: z
      .string()
      .regex(/^[-+_.=]$/)
      .default('+')
      .describe('Separator of sub-addresses (user+tag@domain delivers to user@domain).'),
    limits: z
      .object({
        maxMessageSize: boundedQuantity(sizeLimits.maxMessageSize.min, sizeLimits.maxMessageSize.max)
          .optional()
          .describe('Largest message accepted for or from this domain, e.g. 25Mi.'),
        defaultQuota: boundedQuantity(sizeLimits.defaultQuota.min, sizeLimits.defaultQuota.max)
          .optional()
          .describe('Mailbox quota of new accounts, e.g. 1Gi.'),
        outboundPerMinute: z
          .int()
          .min(1)
          .max(1_000_000)
          .optional()
          .describe('Messages per minute the domain may send.'),
      })
      .default({})
      .describe('Size and rate limits.'),
    policyRules: PolicyRules.default([]).describe(
      'Content policy rules for mail to and from this domain, evaluated after the global rules and before the default rules (docs/filtering.md, "Policy rules").',
    ),
    quarantine: QuarantineSettings.optional().describe(
      "Quarantine settings of this domain's recipients (docs/malware-and-quarantine.md).",
    ),
    tls: z
      .object({
        requireOutbound: z
          .boolean()
          .default(false)
          .describe('Never send mail from this domain over plain text.'),
        mtaSts: z
          .enum(['none', 'testing', 'enforce'])
          .default('none')
          .describe('MTA-STS policy mode to publish.'),
      })
      .default({ requireOutbound: false, mtaSts: 'none' })
      .describe('Transport security policy.'),
    sieve: z
      .object({
        before: sieveScript
          .optional()
          .describe("Sieve script run ahead of every user's script of the domain (RFC 5228)."),
        after: sieveScript
          .optional()
          .describe(
            "Sieve script run behind the user's script, when that left the implicit keep in effect. Setting it (even to a script that does nothing) replaces the built-in spam-to-Junk default.",
          ),
        library: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .min(1)
                  .max(128)
                  .describe('Name include :global uses (no control characters).'),
                script: sieveScript.describe('The Sieve script.'),
              })
              .describe('A script only include :global reaches.'),
          )
          .max(16)
          .default([])
          .describe(
            "Scripts the before/after and users' scripts may include with include :global (RFC 6609).",
          )
          .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
      })
      .optional()
      .describe(
        "The domain's global Sieve scripts. Set: they are exactly the domain's global scripts and `hermod sieve global` cannot change them; unset: the CLI manages them.",
      ),
    clients: z
      .object({
        host: hostName
          .optional()
          .describe(
            'Host name mail clients connect to for IMAP, POP3, submission and ManageSieve. Unset: mail.<domain>.',
          ),
        ports: z
          .object({
            imaps: clientPort.describe('IMAP over TLS (default 993).'),
            imap: clientPort.describe('IMAP with STARTTLS (default 143).'),
            pop3s: clientPort.describe('POP3 over TLS (default 995).'),
            submissions: clientPort.describe('Submission over TLS (default 465).'),
            submission: clientPort.describe('Submission with STARTTLS (default 587).'),
            manageSieve: clientPort.describe('ManageSieve (default 4190).'),
          })
          .optional()
          .describe(
            'Ports of the client services; 0: the service is not offered. Unset: the well-known port.',
          ),
      })
      .optional()
      .describe(
        'Where users point their mail clients: served as autoconfiguration (Thunderbird, Autodiscover, Apple profile) and listed as RFC 6186 SRV records in status.dnsRecords.',
      ),
    dns: z
      .object({
        mxHosts: z
          .array(hostName)
          .max(8)
          .optional()
          .describe(
            'Host names of our MX to publish for this domain. Unset: the operator default (HERMOD_MX_HOSTS).',
          ),
        dmarcPolicy: z
          .enum(['none', 'quarantine', 'reject'])
          .default('quarantine')
          .describe('p= of the DMARC record to publish.'),
        verify: z
          .boolean()
          .default(true)
          .describe('Look the records up and report in the DnsVerified condition.'),
        provider: z
          .enum(['none', 'externalDNS'])
          .default('none')
          .describe(
            'Who publishes the records. none: you do, from status.dnsRecords. externalDNS: the operator writes a DNSEndpoint <name>-dns (externaldns.k8s.io/v1alpha1) with every record of status.dnsRecords, owned by this MailDomain, for external-dns to publish.',
          ),
      })
      .default({ dmarcPolicy: 'quarantine', verify: true, provider: 'none' })
      .describe('The DNS records this domain should publish (listed in status.dnsRecords).'),
  })
  .describe('Desired state of a mail domain.')
  .meta(
    cel(
      {
        rule: "self.exchanger != 'backup' || has(self.backup)",
        message: 'spec.backup.primary is required when exchanger is backup',
        fieldPath: '.backup',
      },
      {
        rule: "!has(self.catchAll) || self.exchanger != 'remote'",
        message: 'catchAll applies to local delivery; a remote domain cannot have one',
        fieldPath: '.catchAll',
      },
    ),
  );
export type MailDomainSpec = z.infer<typeof MailDomainSpec>;

export const conditionTypes = [
  'Ready',
  'ConfigApplied',
  'DkimKeyReady',
  'DkimRotation',
  'DnsVerified',
] as const;
export type ConditionType = (typeof conditionTypes)[number];

export const Condition = z
  .object({
    type: z.string().max(316).describe('Ready, ConfigApplied, DkimKeyReady, DkimRotation or DnsVerified.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    reason: z.string().max(1024).describe('CamelCase reason of the last transition.'),
    message: z.string().max(32768).describe('What is and is not working, for people.'),
    lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('metadata.generation this condition was computed from.'),
  })
  .describe('One aspect of the domain state, in the standard Kubernetes condition shape.');
export type Condition = z.infer<typeof Condition>;

export const DnsRecordStatus = z
  .object({
    purpose: z
      .enum(['MX', 'SPF', 'DKIM', 'DMARC', 'MTA-STS', 'TLS-RPT', 'Autoconfig', 'Autodiscover', 'ClientSRV'])
      .describe('What the record is for.'),
    type: z.enum(['MX', 'TXT', 'CNAME', 'SRV']).describe('DNS record type.'),
    name: z.string().describe('Owner name of the record.'),
    value: z
      .string()
      .describe(
        'Record data to publish (for MX: "<preference> <host>"; for SRV: "<priority> <weight> <port> <target>").',
      ),
    visible: z
      .boolean()
      .optional()
      .describe(
        'Whether the resolver currently sees it (unset: not checked; client autoconfiguration records never are).',
      ),
    detail: z.string().optional().describe('What the resolver returned when not visible.'),
  })
  .describe('A DNS record the domain should publish.');
export type DnsRecordStatus = z.infer<typeof DnsRecordStatus>;

export const MailDomainStatus = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The generation the operator last fully converged.'),
    conditions: z
      .array(Condition)
      .optional()
      .describe('Ready, ConfigApplied, DkimKeyReady, DkimRotation, DnsVerified.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
    effectiveExchanger: z
      .enum(['local', 'remote', 'backup'])
      .optional()
      .describe(
        'The mode in force: spec.exchanger, or for auto what the routing service decided from MX records.',
      ),
    effectiveExchangerReason: z.string().optional().describe('Why the effective mode is what it is.'),
    dkim: z
      .object({
        activeSelector: z.string().optional().describe('Selector outgoing mail is signed with.'),
        pendingSelector: z
          .string()
          .optional()
          .describe('Next selector, published before signing switches to it.'),
        switchAfter: z
          .string()
          .optional()
          .describe(
            'When signing switches to pendingSelector (RFC 3339), provided its DNS record is visible when verification is on.',
          ),
        retiringSelector: z
          .string()
          .optional()
          .describe(
            'The selector signing stopped with; keep its DNS record until it leaves status (publishLeadTime after the switch).',
          ),
        nextRotation: z.string().optional().describe('When the next key will be made (RFC 3339).'),
        secretName: z.string().optional().describe('Secret holding the private keys.'),
      })
      .optional()
      .describe('DKIM key state.'),
    dnsRecords: z
      .array(DnsRecordStatus)
      .optional()
      .describe('Records the domain should publish, and whether they are seen.'),
  })
  .describe('Observed state of a mail domain, written by the operator.');
export type MailDomainStatus = z.infer<typeof MailDomainStatus>;

export const ObjectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** A resource of ours as read from the API server (which has already applied the CRD defaults). */
export const resourceOf = <S extends z.ZodType, T extends z.ZodType>(spec: S, status: T) =>
  z.object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: ObjectMeta,
    spec,
    status: status.optional(),
  });

export const MailDomain = resourceOf(MailDomainSpec, MailDomainStatus);
export type MailDomain = z.infer<typeof MailDomain>;

export const printerColumns = [
  { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
  { name: 'Mode', type: 'string', jsonPath: '.spec.exchanger' },
  { name: 'Effective', type: 'string', jsonPath: '.status.effectiveExchanger' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;
