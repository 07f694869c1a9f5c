/** Extensions a script may `require`: only the complete ones are listed. */
export const SIEVE_EXTENSIONS: readonly string[] = Object.freeze([
  'fileinto',
  'envelope',
  'encoded-character',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'comparator-i;ascii-numeric',
  'copy',
  'imap4flags',
  'variables',
  'relational',
  'subaddress',
  'regex',
  'vacation',
  'vacation-seconds',
]);
