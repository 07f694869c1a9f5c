import { z } from 'zod';

/** "Route the accepted message spoolId": routing reads envelope and recipients from the spool. */
export const RoutingJob = z.object({ spoolId: z.uuid() });
export type RoutingJob = z.infer<typeof RoutingJob>;

/** "Store spoolId for these recipients": one job per message, all its local recipients. */
export const LocalDeliveryJob = z.object({
  spoolId: z.uuid(),
  recipients: z
    .array(
      z.object({
        rcptIndex: z.number().int().min(0),
        accountId: z.number().int().positive(),
        /** Mailbox by special use or name; INBOX unless a filter decided otherwise (Junk for spam). */
        mailbox: z.string().min(1).default('INBOX'),
      }),
    )
    .min(1),
});
export type LocalDeliveryJob = z.infer<typeof LocalDeliveryJob>;

/** "Deliver spoolId to these remote recipients"; outbound-mta keeps its own per-recipient schedule. */
export const OutboundJob = z.object({
  spoolId: z.uuid(),
  rcptIndexes: z.array(z.number().int().min(0)).min(1),
});
export type OutboundJob = z.infer<typeof OutboundJob>;

/**
 * Published on core NATS after a mailbox changed, so every IMAP replica can tell its sessions.
 * 'mailboxes' (create, delete with `deleted`, rename with `oldName`), 'subscription' and 'metadata'
 * carry what IMAP NOTIFY (RFC 5465) reports; mailboxId 0 means no mailbox (server metadata, a
 * subscribed name without a mailbox). `origin` names the session that caused the change, if any.
 */
export const MailboxChangeEvent = z.object({
  accountId: z.number().int().positive(),
  mailboxId: z.number().int().nonnegative(),
  kind: z.enum(['exists', 'flags', 'expunge', 'mailboxes', 'subscription', 'metadata']),
  uids: z.array(z.number().int().positive()).default([]),
  modseq: z.number().int().nonnegative(),
  /** The mailbox name after the change (mailboxes, subscription). */
  name: z.string().optional(),
  /** RENAME: the name before. */
  oldName: z.string().optional(),
  /** DELETE: the mailbox is gone. */
  deleted: z.boolean().optional(),
  /** SUBSCRIBE (true) or UNSUBSCRIBE (false). */
  subscribed: z.boolean().optional(),
  /** METADATA: the entry names set or removed. */
  entries: z.array(z.string()).optional(),
  origin: z.string().optional(),
});
export type MailboxChangeEvent = z.infer<typeof MailboxChangeEvent>;

export const mailboxEventSubject = (accountId: number | '*'): string => `hermod.events.mailbox.${accountId}`;
