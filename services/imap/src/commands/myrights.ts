import { findAccessible } from '../acl/access.js';
import { formatRights } from '../acl/rights.js';
import { astring } from '../protocol/compose.js';
import { authenticated } from '../session/states.js';
import { defineCommand, mailboxOnly, no, ok } from './command.js';
import { encodeName } from './list.js';

/** MYRIGHTS mailbox (RFC 4314 3.5): any right suffices to ask. */
export const myRightsCommand = defineCommand({
  name: 'MYRIGHTS',
  states: authenticated,
  parse: mailboxOnly,
  async run(session, mailbox) {
    const access = await findAccessible(session, mailbox);
    if (!access) return no('No such mailbox', 'NONEXISTENT');
    session.untagged(`MYRIGHTS ${encodeName(session, access.name)} ${astring(formatRights(access.rights))}`);
    return ok('MYRIGHTS completed');
  },
});
