import { findAccessible } from '../acl/access.js';
import { classifyName, SHARED_PREFIX } from '../acl/shared-namespace.js';
import { astring } from '../protocol/compose.js';
import type { CommandContext } from '../session/command-context.js';
import { authenticated } from '../session/states.js';
import { type CommandResult, defineCommand, mailboxOnly, no, ok } from './command.js';
import { encodeName } from './list.js';

/**
 * One quota root per account covering every mailbox (RFC 9208): "" for the user's own account,
 * `Shared/<owner>` for another account whose mailboxes the user may see (l), named like that
 * account's level of the shared namespace.
 */
async function sendQuota(session: CommandContext, accountId: number, root: string): Promise<boolean> {
  const quota = await session.backend.quota(accountId);
  if (quota.limit === null) return false;
  session.untagged(
    `QUOTA ${astring(root)} (STORAGE ${Math.ceil(quota.bytes / 1024)} ${Math.floor(quota.limit / 1024)})`,
  );
  return true;
}

/** The account behind a quota root the user may ask about, undefined for any other name. */
async function rootAccount(session: CommandContext, root: string): Promise<number | undefined> {
  const user = session.user!;
  if (root === '') return user.id;
  const where = classifyName(root);
  if (
    where.kind !== 'shared-level' ||
    where.owner === undefined ||
    root.length !== SHARED_PREFIX.length + where.owner.length
  )
    return undefined;
  const visible = await session.backend.listSharedMailboxes(user.id);
  return visible.find((m) => m.ownerAddress.toLowerCase() === where.owner && m.rights.includes('l'))?.ownerId;
}

export const getQuotaRootCommand = defineCommand({
  name: 'GETQUOTAROOT',
  states: authenticated,
  parse: mailboxOnly,
  async run(session, mailbox): Promise<CommandResult> {
    // Another account's mailbox is answered for as the ACL commands do: missing without l.
    const access = await findAccessible(session, mailbox);
    if (!access?.rights.includes('l')) return no('No such mailbox', 'NONEXISTENT');
    const where = classifyName(access.name);
    const root = access.shared && where.kind === 'shared' ? `${SHARED_PREFIX}${where.owner}` : '';
    const quota = await session.backend.quota(access.ownerId);
    session.untagged(
      `QUOTAROOT ${encodeName(session, mailbox)}${quota.limit === null ? '' : ` ${astring(root)}`}`,
    );
    await sendQuota(session, access.ownerId, root);
    return ok('GETQUOTAROOT completed');
  },
});

export const getQuotaCommand = defineCommand({
  name: 'GETQUOTA',
  states: authenticated,
  parse(args) {
    const root = args.astring('quota root');
    args.end();
    return root;
  },
  async run(session, root): Promise<CommandResult> {
    const accountId = await rootAccount(session, root);
    if (accountId === undefined || !(await sendQuota(session, accountId, root)))
      return no('No such quota root', 'NONEXISTENT');
    return ok('GETQUOTA completed');
  },
});

export const setQuotaCommand = defineCommand({
  name: 'SETQUOTA',
  states: authenticated,
  parse: () => undefined,
  run: async () => no('Quota is set by the administrator', 'NOPERM'),
});
