import { BadArgumentsError } from '../protocol/errors.js';
import type { CommandContext } from '../session/command-context.js';
import { type CommandResult, no } from './command.js';

/**
 * entry = astring naming a slash-separated path under /private or /shared (RFC 5464 section 3.2):
 * no "*" or "%", no "//", no trailing "/", no control characters. Names are case-insensitive and
 * kept lower-case. `prefixOnly` allows "/private" and "/shared" themselves (GETMETADATA with DEPTH).
 */
export function parseEntryName(text: string, prefixOnly: boolean): string {
  const name = text.toLowerCase();
  const valid =
    /^\/(private|shared)(\/[^/]+)*$/.test(name) &&
    !/[*%\x00-\x1f\x7f]/.test(name) &&
    (prefixOnly || /^\/(private|shared)\/./.test(name));
  if (!valid) throw new BadArgumentsError(`Invalid metadata entry name ${JSON.stringify(text.slice(0, 64))}`);
  return name;
}

/** The mailbox a metadata command names: null for the server (""), else the user's mailbox id. */
export async function metadataTarget(
  session: CommandContext,
  mailbox: string,
): Promise<{ mailboxId: number | null } | CommandResult> {
  if (mailbox === '') return { mailboxId: null };
  const box = await session.backend.findMailbox(session.user!.id, mailbox);
  return box ? { mailboxId: box.id } : no('No such mailbox', 'NONEXISTENT');
}
