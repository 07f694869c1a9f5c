import { AccountStore } from '@hermod/accounts';
import { migrate, type Pool } from '@hermod/db';
import {
  type AclChange,
  AclError,
  ALL_RIGHTS,
  deleteAcl,
  findMailbox,
  getAcl,
  setAcl,
} from '@hermod/mail-store';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod acl: who may use an account's mailboxes (IMAP ACL, RFC 4314)

Usage:
  hermod acl list <owner@domain> <mailbox> [--json]
  hermod acl set <owner@domain> <mailbox> <identifier> <rights>
  hermod acl delete <owner@domain> <mailbox> <identifier>

<identifier> is 'anyone' (every account of the owner's domain) or the address of an account of
the owner's domain. <rights> are letters of ${ALL_RIGHTS}: l see, r read, s keep \\Seen,
w other flags, i insert, p post, k create children, x delete the mailbox, t flag \\Deleted,
e expunge, a administer. '+lr' adds, '-w' removes, 'lr' replaces; an empty result removes the
entry. The owner always holds every right. Users see granted mailboxes as
Shared/<owner@domain>/<mailbox> (see docs/imap.md).`;

function parseChange(text: string): AclChange {
  const mode = text.startsWith('+') ? 'add' : text.startsWith('-') ? 'remove' : 'set';
  const rights = mode === 'set' ? text : text.slice(1);
  if (![...rights].every((r) => ALL_RIGHTS.includes(r)))
    throw new UsageError(`rights are letters of ${ALL_RIGHTS} (got '${rights}')`);
  return { mode, rights };
}

async function mailboxOf(ctx: CliContext, owner: string, name: string) {
  const pool: Pool = await ctx.db();
  await migrate(pool);
  const account = await new AccountStore(pool).findByAddress(owner);
  if (!account) throw new UsageError(`no account has the address ${owner}`);
  const box = await findMailbox(pool, account.id, /^inbox$/i.test(name) ? 'INBOX' : name);
  if (!box) throw new UsageError(`${account.address} has no mailbox ${name}`);
  return { pool, ownerId: account.id, mailboxId: box.id };
}

async function refused(ctx: CliContext, action: () => Promise<void>): Promise<number> {
  try {
    await action();
    return 0;
  } catch (error) {
    if (!(error instanceof AclError)) throw error;
    ctx.stderr.write(`hermod acl: ${error.message}\n`);
    return 1;
  }
}

export const aclCommand: CliCommand = {
  name: 'acl',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const [owner, name, extra] = flags.positional;
        if (!owner || !name || extra) throw new UsageError('list takes an owner address and a mailbox');
        const { pool, mailboxId } = await mailboxOf(ctx, owner, name);
        const entries = await getAcl(pool, mailboxId);
        if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        else ctx.stdout.write(`${entries.map((e) => `${e.identifier}\t${e.rights}`).join('\n')}\n`);
        return 0;
      }
      case 'set': {
        const [owner, name, identifier, rights, extra] = rest;
        if (!owner || !name || !identifier || rights === undefined || extra)
          throw new UsageError('set takes an owner address, a mailbox, an identifier and rights');
        const change = parseChange(rights);
        const { pool, ownerId, mailboxId } = await mailboxOf(ctx, owner, name);
        return refused(ctx, async () => {
          const now = await setAcl(pool, ownerId, mailboxId, identifier, change);
          ctx.stdout.write(now ? `${identifier}\t${now}\n` : `${identifier} has no rights\n`);
        });
      }
      case 'delete': {
        const [owner, name, identifier, extra] = rest;
        if (!owner || !name || !identifier || extra)
          throw new UsageError('delete takes an owner address, a mailbox and an identifier');
        const { pool, ownerId, mailboxId } = await mailboxOf(ctx, owner, name);
        return refused(ctx, async () => {
          await deleteAcl(pool, ownerId, mailboxId, identifier);
          ctx.stdout.write(`${identifier} removed\n`);
        });
      }
      default:
        throw subcommandError(sub, ['list', 'set', 'delete']);
    }
  },
};
