import { AclError } from '@hermod/mail-store';
import { type CommandResult, no, ok } from '../commands/command.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { CommandContext } from '../session/command-context.js';

/**
 * `mailbox SP identifier` (DELETEACL, LISTRIGHTS; SETACL reads its rights after them). An empty
 * identifier is BAD (RFC 4314 section 3).
 */
export function parseMailboxIdentifier(args: ArgumentCursor, session: CommandContext) {
  const mailbox = args.mailbox(session.utf8);
  const identifier = args.astring('identifier');
  if (identifier === '') throw new BadArgumentsError('Empty identifier');
  return { mailbox, identifier };
}

/**
 * Runs an ACL change: negative rights (`-identifier`) are not supported, and an identifier the
 * store refuses (another domain, no such account, the owner) is NO [CANNOT].
 */
export async function aclChange(
  identifier: string,
  change: () => Promise<unknown>,
  done: string,
): Promise<CommandResult> {
  if (identifier.startsWith('-')) return no('Negative rights are not supported', 'CANNOT');
  try {
    await change();
  } catch (error) {
    if (error instanceof AclError) return no(error.message, 'CANNOT');
    throw error;
  }
  return ok(done);
}
