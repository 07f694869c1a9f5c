import { isValidMailboxName, MailboxError } from '@hermod/mail-store';
import { accessMailbox, creationTarget } from '../acl/access.js';
import { classifyName } from '../acl/shared-namespace.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { mailboxObjectId } from '../protocol/object-id.js';
import { authenticated } from '../session/states.js';
import { type CommandResult, defineCommand, mailboxOnly, no, ok } from './command.js';
import { SEPARATOR } from './list.js';

const SPECIAL_USES = ['\\Archive', '\\Drafts', '\\Junk', '\\Sent', '\\Trash', '\\All', '\\Flagged'];

/** Maps store errors to tagged NO with the RFC 5530 response code. */
async function guarded(
  fn: () => Promise<unknown>,
  done: string,
  code?: () => string,
): Promise<CommandResult> {
  try {
    await fn();
    return ok(done, code?.());
  } catch (error) {
    if (error instanceof MailboxError)
      return no(error.message, error.code === 'CANNOT' ? 'CANNOT' : error.code);
    throw error;
  }
}

function validName(name: string): string {
  if (!isValidMailboxName(name)) throw new BadArgumentsError('Invalid mailbox name');
  return name;
}

export const createCommand = defineCommand({
  name: 'CREATE',
  states: authenticated,
  parse(args, session) {
    const name = validName(args.mailbox(session.utf8));
    let specialUse: string | null = null;
    const params = args.optionalList();
    if (params) {
      const [key, value] = params.items;
      if (key?.type !== 'atom' || key.value.toUpperCase() !== 'USE' || value?.type !== 'list')
        throw new BadArgumentsError('Invalid CREATE parameters');
      const use = value.items[0];
      const known =
        use?.type === 'atom'
          ? SPECIAL_USES.find((s) => s.toLowerCase() === use.value.toLowerCase())
          : undefined;
      if (!known || value.items.length !== 1) throw new BadArgumentsError('Unsupported special use');
      specialUse = known;
    }
    args.end();
    return { name, specialUse };
  },
  async run(session, { name, specialUse }) {
    if (name === 'INBOX') return no('INBOX always exists', 'ALREADYEXISTS');
    // In another account's mailboxes CREATE needs k on the parent (RFC 4314 section 4).
    const target = await creationTarget(session, name);
    const owner = target.ownerId;
    let created = 0;
    return guarded(
      async () => {
        // Superior names are created too (RFC 3501 6.3.3), ignoring ones that exist.
        const parts = target.ownName.split(SEPARATOR);
        for (let i = 1; i < parts.length; i++) {
          const parent = parts.slice(0, i).join(SEPARATOR);
          if (!(await session.backend.findMailbox(owner, parent)))
            await session.backend.createMailbox(owner, parent).catch(() => {});
        }
        created = (await session.backend.createMailbox(owner, target.ownName, specialUse)).id;
      },
      'CREATE completed',
      () => `MAILBOXID (${mailboxObjectId(created)})`,
    ); // RFC 8474 4.1
  },
});

export const deleteCommand = defineCommand({
  name: 'DELETE',
  states: authenticated,
  parse: mailboxOnly,
  async run(session, name, tag) {
    // DELETE needs x (RFC 4314 section 4).
    const access = await accessMailbox(session, name, 'x');
    const deletesOwnView = session.selected?.id === access.box.id;
    const result = await guarded(
      () => session.backend.deleteMailbox(access.ownerId, access.ownName),
      'DELETE completed',
    );
    if (!deletesOwnView || result.status !== 'OK') return result;
    // The session's own selected mailbox: deleted, then the session ends as every other view of it
    // does (RFC 2180 section 3.3), after the OK (as Dovecot; clients such as imapflow delete the
    // folder they have open).
    session.tagged(tag, result);
    session.untagged('BYE Selected mailbox was deleted, have to disconnect');
    session.close();
    return { status: 'OK', text: '', silent: true };
  },
});

export const renameCommand = defineCommand({
  name: 'RENAME',
  states: authenticated,
  parse(args, session) {
    const from = args.mailbox(session.utf8);
    const to = validName(args.mailbox(session.utf8));
    args.end();
    return { from, to };
  },
  async run(session, { from, to }) {
    if (to === 'INBOX') return no('INBOX exists', 'ALREADYEXISTS');
    // RENAME needs x on the mailbox and k on the new parent, within one account (RFC 4314 section 4).
    const source = await accessMailbox(session, from, 'x');
    const target = await creationTarget(session, to);
    if (target.ownerId !== source.ownerId)
      return no('A mailbox cannot be renamed into another account', 'CANNOT');
    return guarded(
      () => session.backend.renameMailbox(source.ownerId, source.ownName, target.ownName),
      'RENAME completed',
    );
  },
});

function subscription(name: 'SUBSCRIBE' | 'UNSUBSCRIBE') {
  return defineCommand({
    name,
    states: authenticated,
    parse: mailboxOnly,
    async run(session, mailbox) {
      // Another account's mailbox may be subscribed to when the session may see it (l).
      if (name === 'SUBSCRIBE' && classifyName(mailbox).kind !== 'own') {
        const access = await accessMailbox(session, mailbox, 'l');
        await session.backend.subscribeShared(session.user!.id, access.name);
        return ok(`${name} completed`);
      }
      return guarded(
        () => session.backend.setSubscribed(session.user!.id, mailbox, name === 'SUBSCRIBE'),
        `${name} completed`,
      );
    },
  });
}

export const subscribeCommand = subscription('SUBSCRIBE');
export const unsubscribeCommand = subscription('UNSUBSCRIBE');
