import type { CommandContext } from '../session/command-context.js';
import { authenticated } from '../session/states.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';
import { encodeName } from './list.js';

/** One quota root per account, named "" and covering every mailbox (RFC 9208). */
async function sendQuota(session: CommandContext): Promise<boolean> {
  const quota = await session.backend.quota(session.user!.id);
  if (quota.limit === null) return false;
  session.untagged(`QUOTA "" (STORAGE ${Math.ceil(quota.bytes / 1024)} ${Math.floor(quota.limit / 1024)})`);
  return true;
}

export const getQuotaRootCommand = defineCommand({
  name: 'GETQUOTAROOT',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    args.end();
    return mailbox;
  },
  async run(session, mailbox): Promise<CommandResult> {
    if (!(await session.backend.findMailbox(session.user!.id, mailbox)))
      return no('No such mailbox', 'NONEXISTENT');
    const quota = await session.backend.quota(session.user!.id);
    session.untagged(`QUOTAROOT ${encodeName(session, mailbox)}${quota.limit === null ? '' : ' ""'}`);
    await sendQuota(session);
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
    if (root !== '' || !(await sendQuota(session))) return no('No such quota root', 'NONEXISTENT');
    return ok('GETQUOTA completed');
  },
});

export const setQuotaCommand = defineCommand({
  name: 'SETQUOTA',
  states: authenticated,
  parse: () => undefined,
  run: async () => no('Quota is set by the administrator', 'NOPERM'),
});
