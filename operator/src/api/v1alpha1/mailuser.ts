// The MailUser and MailGroup APIs (mail.hermod.dev/v1alpha1): the ONE source of their shape (types,
// the parser the reconcilers use, and through src/crd/generate.ts the CRDs' schemas).
import { z } from 'zod';
import { address, boundedQuantity, Condition, cel, resourceOf } from './maildomain.js';

export const USER_KIND = 'MailUser';
export const USER_PLURAL = 'mailusers';
export const GROUP_KIND = 'MailGroup';
export const GROUP_PLURAL = 'mailgroups';

/** Bounds of spec.quota (the same as a MailDomain's defaultQuota). */
export const quotaLimits = { min: '1Mi', max: '1024Ti' } as const;

const immutable = (what: string) =>
  cel({ rule: 'self == oldSelf', message: `${what} is immutable; create a new resource instead` });
const addressList = (max: number, what: string) =>
  z.array(address).max(max).default([]).describe(what).meta({ 'x-kubernetes-list-type': 'set' });
const deletionPolicy = z
  .enum(['Retain', 'Delete'])
  .default('Retain')
  .describe(
    'What deleting the resource does to the mailbox. Retain: the account and its mail stay, disabled and no longer owned ' +
      '(the CLI may remove it; a new resource may adopt it). Delete: the account and all its mail are removed.',
  );

/** observedGeneration and conditions, as every status of ours has them. */
const convergence = (conditions: string) => ({
  observedGeneration: z.int().min(0).optional().describe('The generation the operator last fully converged.'),
  conditions: z
    .array(Condition)
    .optional()
    .describe(conditions)
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
});

export const MailUserSpec = z
  .object({
    address: address
      .describe('The primary address, e.g. ann@example.com; its domain needs a Ready MailDomain. Immutable.')
      .meta(immutable('address')),
    displayName: z.string().max(256).optional().describe('The person or role, e.g. "Ann Example".'),
    password: z
      .object({
        secretRef: z
          .object({
            name: z.string().min(1).max(253).describe('Secret in the namespace of the MailUser.'),
            key: z.string().min(1).max(253).default('password').describe('Key of the Secret.'),
          })
          .describe('Where the password is.'),
      })
      .describe(
        'The login password, from a Secret key holding either an argon2 hash ($argon2id$..., as `hermod` writes them) ' +
          'or a plaintext the operator hashes with the same rule as `hermod user add` (argon2id; at least 8 characters).',
      ),
    quota: boundedQuantity(quotaLimits.min, quotaLimits.max)
      .optional()
      .describe(
        'Mailbox quota, e.g. 2Gi. Unset: the domain default (spec.limits.defaultQuota of its MailDomain).',
      ),
    aliases: addressList(100, 'Further addresses the user receives mail for and may send as.'),
    sendAs: addressList(
      100,
      'Addresses the user may send as without receiving their mail (say a shared role address).',
    ),
    forwarding: z
      .object({
        to: z
          .array(address)
          .min(1)
          .max(16)
          .describe('Where a copy of every message goes (external ones with SRS).'),
        keepCopy: z.boolean().default(true).describe('Keep a copy in the mailbox as well.'),
      })
      .optional()
      .describe('Forward incoming mail.'),
    suspended: z
      .boolean()
      .default(false)
      .describe('Refuse logins (IMAP, submission, ManageSieve); mail is still received.'),
    deletionPolicy,
  })
  .describe('Desired state of a mail account.');
export type MailUserSpec = z.infer<typeof MailUserSpec>;

export const MailUserStatus = z
  .object({
    ...convergence('Ready, DomainReady, AccountSynced.'),
    accountId: z.int().min(0).optional().describe('The account in the accounts store.'),
    quota: z
      .object({
        usedBytes: z.int().min(0).describe('Bytes the mailboxes hold.'),
        messages: z.int().min(0).describe('Messages the mailboxes hold.'),
        limitBytes: z.int().min(0).optional().describe('The quota in bytes (unset: the domain default).'),
        used: z.string().describe('Usage for people, e.g. "12Mi" or "12Mi/2Gi (1%)".'),
        checkedAt: z.string().describe('When usage was last seen to change (RFC 3339).'),
      })
      .optional()
      .describe('Mailbox usage, refreshed periodically.'),
  })
  .describe('Observed state of a mail account, written by the operator.');
export type MailUserStatus = z.infer<typeof MailUserStatus>;

export const MailUser = resourceOf(MailUserSpec, MailUserStatus);
export type MailUser = z.infer<typeof MailUser>;

export const userPrinterColumns = [
  { name: 'Address', type: 'string', jsonPath: '.spec.address' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
  { name: 'Used', type: 'string', jsonPath: '.status.quota.used' },
  { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspended', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;

export const MailGroupSpec = z
  .object({
    address: address
      .describe('The group address, e.g. team@example.com; its domain needs a Ready MailDomain. Immutable.')
      .meta(immutable('address')),
    displayName: z.string().max(256).optional().describe('What the group is, e.g. "Sales team".'),
    members: z
      .array(address)
      .min(1)
      .max(10_000)
      .describe(
        'Who receives the mail: local addresses (users, aliases, other groups) or external ones (forwarded with SRS).',
      )
      .meta({ 'x-kubernetes-list-type': 'set' }),
    allowedSenders: z
      .enum(['Anyone', 'Members', 'Listed', 'Domain'])
      .default('Anyone')
      .describe(
        'Who may send to the group (the envelope sender, checked at RCPT; others get 550 5.7.2). Anyone; Members: its members; ' +
          "Listed: the addresses or domains in senders; Domain: addresses of the group's own domain.",
      ),
    senders: z
      .array(
        z
          .string()
          .min(1)
          .max(320)
          .regex(/^([^@\s]+@)?[A-Za-z0-9.-]+$/),
      )
      .max(1_000)
      .default([])
      .describe('With allowedSenders Listed: sender addresses, or domains (every address of the domain).')
      .meta({ 'x-kubernetes-list-type': 'set' }),
    deletionPolicy: z
      .enum(['Delete'])
      .default('Delete')
      .describe('A group holds no mail: deleting the resource removes the group.'),
  })
  .describe('Desired state of a distribution list.')
  .meta(
    cel({
      rule: "self.allowedSenders != 'Listed' || size(self.senders) > 0",
      message: 'allowedSenders Listed needs at least one entry in senders',
      fieldPath: '.senders',
    }),
  );
export type MailGroupSpec = z.infer<typeof MailGroupSpec>;

export const MailGroupStatus = z
  .object({
    ...convergence('Ready, DomainReady, GroupSynced.'),
    memberCount: z.int().min(0).optional().describe('How many members the group has.'),
  })
  .describe('Observed state of a distribution list, written by the operator.');
export type MailGroupStatus = z.infer<typeof MailGroupStatus>;

export const MailGroup = resourceOf(MailGroupSpec, MailGroupStatus);
export type MailGroup = z.infer<typeof MailGroup>;

export const groupPrinterColumns = [
  { name: 'Address', type: 'string', jsonPath: '.spec.address' },
  { name: 'Senders', type: 'string', jsonPath: '.spec.allowedSenders' },
  { name: 'Members', type: 'integer', jsonPath: '.status.memberCount' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;
