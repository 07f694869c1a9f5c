import type { ArgumentCursor } from '../protocol/arguments.js';
import type { CommandContext } from '../session/command-context.js';
import type { State } from '../session/states.js';

export interface CommandResult {
  status: 'OK' | 'NO' | 'BAD';
  /** Response code without brackets, e.g. 'READ-WRITE' or 'COPYUID 38505 304,319:320 3956:3958'. */
  code?: string;
  text: string;
  /** The command already sent its tagged reply (STARTTLS, LOGOUT). */
  silent?: boolean;
}

/**
 * One IMAP command: the states it is allowed in, how its arguments are read (throwing
 * BadArgumentsError on a mismatch), and what it does. The session enforces both before `run`.
 */
export interface ImapCommand<A = unknown> {
  name: string;
  states: readonly State[];
  /** Whether untagged EXPUNGE may be sent when this command completes (not after FETCH/STORE/SEARCH). */
  allowsExpunge?: boolean;
  /**
   * Whether the command (or, as a function, these arguments of it) names messages by sequence
   * number; once UIDONLY is enabled such a command is refused with BAD [UIDREQUIRED] (RFC 9586).
   */
  usesSequenceNumbers?: boolean | ((args: A) => boolean);
  parse(args: ArgumentCursor, session: CommandContext): A;
  run(session: CommandContext, args: A, tag: string): Promise<CommandResult>;
}

export const ok = (text = 'Completed', code?: string): CommandResult =>
  code ? { status: 'OK', text, code } : { status: 'OK', text };
export const no = (text: string, code?: string): CommandResult =>
  code ? { status: 'NO', text, code } : { status: 'NO', text };

/** `mailbox` and nothing after it: the arguments of DELETE, (UN)SUBSCRIBE, GETQUOTAROOT, GETACL, MYRIGHTS. */
export function mailboxOnly(args: ArgumentCursor, session: CommandContext): string {
  const mailbox = args.mailbox(session.utf8);
  args.end();
  return mailbox;
}

/** Helper so each command file keeps its argument type. */
export function defineCommand<A>(command: ImapCommand<A>): ImapCommand<A> {
  return command;
}
