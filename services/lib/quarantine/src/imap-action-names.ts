/**
 * What a recipient does to the notice in their mailbox, from any IMAP client, to act on the held
 * message. The same names are in migration 070's triggers, which turn them into user actions.
 */
export const imapActions = {
  releaseKeyword: '$QuarantineRelease',
  deleteKeyword: '$QuarantineDelete',
  releaseMailbox: 'Quarantine/Release',
} as const;
