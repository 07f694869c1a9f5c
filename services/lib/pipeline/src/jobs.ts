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

/** Published on core NATS after a mailbox changed, so every IMAP replica can tell its sessions. */
export const MailboxChangeEvent = z.object({
  accountId: z.number().int().positive(),
  mailboxId: z.number().int().positive(),
  kind: z.enum(['exists', 'flags', 'expunge', 'mailboxes']),
  uids: z.array(z.number().int().positive()).default([]),
  modseq: z.number().int().nonnegative(),
});
export type MailboxChangeEvent = z.infer<typeof MailboxChangeEvent>;

export const mailboxEventSubject = (accountId: number | '*'): string => `hermod.events.mailbox.${accountId}`;
