/** The hierarchy separator of mailbox names (IMAP LIST's delimiter). */
export const MAILBOX_SEPARATOR = '/';

/** Longest mailbox name, in UTF-16 code units. */
export const MAX_MAILBOX_NAME_LENGTH = 512;

/**
 * Whether a name may be given to a new mailbox: the one rule for IMAP CREATE and RENAME and Sieve's
 * `fileinto :create` (createMailbox enforces it too). Non-empty, at most 512 characters, no empty
 * level (`a//b`, `/a`, `a/`), no control characters and none of IMAP LIST's wildcards `*` and `%`.
 */
export function isValidMailboxName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_MAILBOX_NAME_LENGTH &&
    !name.split(MAILBOX_SEPARATOR).includes('') &&
    !/[\u0000-\u001f\u007f*%]/.test(name)
  );
}
