import type { MailboxStatus } from '@hermod/mail-store';
import { accessMailbox } from '../acl/access.js';
import { classifyName } from '../acl/shared-namespace.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { mailboxObjectId } from '../protocol/object-id.js';
import type { Token } from '../protocol/parser.js';
import type { CommandContext } from '../session/command-context.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';
import { encodeName } from './list.js';

const ITEMS = [
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'SIZE',
  'HIGHESTMODSEQ',
  'DELETED',
  'DELETED-STORAGE',
  'MAILBOXID',
];

export function parseStatusItems(tokens: Token[]): string[] {
  if (tokens.length === 0) throw new BadArgumentsError('Empty status item list');
  return tokens.map((t) => {
    const item = t.type === 'atom' ? t.value.toUpperCase() : '';
    if (!ITEMS.includes(item)) throw new BadArgumentsError('Invalid status item');
    return item;
  });
}

export function statusItems(items: string[], status: MailboxStatus, mailboxId: number): string[] {
  const values: Record<string, number | string> = {
    MESSAGES: status.messages,
    RECENT: status.recent,
    UIDNEXT: status.uidnext,
    UIDVALIDITY: status.uidvalidity,
    UNSEEN: status.unseen,
    SIZE: status.size,
    HIGHESTMODSEQ: status.highestmodseq,
    DELETED: status.deleted,
    // RFC 9208: in units of 1024 octets, like the STORAGE resource.
    'DELETED-STORAGE': Math.ceil(status.deletedSize / 1024),
    MAILBOXID: `(${mailboxObjectId(mailboxId)})`, // RFC 8474 4.2
  };
  return items.map((item) => `${item} ${values[item]}`);
}

export const statusCommand = defineCommand({
  name: 'STATUS',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const items = parseStatusItems(args.list('status items').items);
    args.end();
    return { mailbox, items };
  },
  async run(session, { mailbox, items }) {
    if (items.includes('HIGHESTMODSEQ')) session.enable('CONDSTORE');
    // An own mailbox: status by name in one round trip; another account's needs r (RFC 4314).
    const box =
      classifyName(mailbox).kind === 'own'
        ? await session.backend.mailboxStatusByName(session.user!.id, mailbox)
        : await sharedStatus(session, mailbox);
    if (!box) return no('No such mailbox', 'NONEXISTENT');
    session.untagged(
      `STATUS ${encodeName(session, mailbox)} (${statusItems(items, box.status, box.id).join(' ')})`,
    );
    return ok('STATUS completed');
  },
});

async function sharedStatus(session: CommandContext, mailbox: string) {
  const { box } = await accessMailbox(session, mailbox, 'r');
  return { id: box.id, status: await session.backend.mailboxStatus(box.id) };
}
