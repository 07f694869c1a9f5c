/** The FETCH items bench/imap.ts's mix picks from (each with even odds), as bench/imap-queries.ts replays it. */
export const MIX_FETCH_FIELDS: readonly string[] = [
  'FLAGS',
  'UID',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY.PEEK[HEADER]',
];
