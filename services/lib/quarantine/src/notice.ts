import { rfc5322Date } from '@hermod/smtp';
import { imapActions } from './imap-action-names.js';

export interface NoticeInput {
  id: string;
  host: string;
  mailFrom: string;
  headerFrom: string | undefined;
  subject: string | undefined;
  kind: string;
  reason: string;
  expiresAt: Date;
  now: Date;
  /** Whether the recipients may release it themselves (userMayRelease); otherwise only an admin. */
  userRelease: boolean;
}

const oneLine = (s: string) =>
  s
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 300);

/**
 * The notice a recipient finds in the INBOX for a message held for them: what it was (sender,
 * subject), why, until when, and how to get it released. Plain US-ASCII text, from the
 * postmaster with a null envelope sender (never bounced).
 */
export function buildQuarantineNotice(input: NoticeInput): Buffer {
  const subject = input.subject ? oneLine(input.subject) : '(no subject)';
  const sender = oneLine(input.headerFrom ?? (input.mailFrom || '<>'));
  const text = [
    `From: Mail quarantine <postmaster@${input.host}>`,
    `Subject: Quarantined: ${subject}`.slice(0, 200),
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <quarantine-notice-${input.id}@${input.host}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    `X-Hermod-Quarantine-Id: ${input.id}`,
    '',
    'A message addressed to you was held in quarantine instead of being delivered.',
    '',
    `  From:     ${sender}`,
    `  Sender:   ${oneLine(input.mailFrom || '<>')}`,
    `  Subject:  ${subject}`,
    `  Reason:   ${oneLine(input.reason)} (${input.kind})`,
    `  Id:       ${input.id}`,
    `  Kept until: ${rfc5322Date(input.expiresAt)}`,
    '',
    ...(input.userRelease
      ? [
          'To have it delivered to you, mark this notice with the keyword',
          `${imapActions.releaseKeyword} or move (or copy) it into the folder ${imapActions.releaseMailbox}.`,
        ]
      : [
          input.kind === 'malware'
            ? 'It carries malware: only your mail administrator can release it'
            : 'Only your mail administrator can release it',
          `(hermod quarantine release ${input.id}); your own release request is refused and logged.`,
        ]),
    `To delete it, mark this notice with the keyword ${imapActions.deleteKeyword}.`,
    'Unless released it is deleted after the date above.',
    '',
  ].join('\r\n');
  return Buffer.from(text, 'ascii');
}
