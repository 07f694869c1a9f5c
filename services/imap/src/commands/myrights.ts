import { findAccessible } from '../acl/access.js';
import { formatRights } from '../acl/rights.js';
import { astring } from '../protocol/compose.js';
import { authenticated } from '../session/states.js';
import { defineCommand, mailboxOnly, no, ok } from './command.js';
import { encodeName } from './list.js';

/** The rights of which MYRIGHTS needs one (RFC 4314 section 4: "Any"). */
const ANY_OF = 'lrikxa';

/**
 * MYRIGHTS mailbox (RFC 4314 3.5). Without any of l r i k x a the mailbox is answered for as
 * missing (none of them includes l, so its existence is not revealed).
 */
export const myRightsCommand = defineCommand({
  name: 'MYRIGHTS',
  states: authenticated,
  parse: mailboxOnly,
  async run(session, mailbox) {
    const access = await findAccessible(session, mailbox);
    if (!access || ![...ANY_OF].some((r) => access.rights.includes(r)))
      return no('No such mailbox', 'NONEXISTENT');
    session.untagged(`MYRIGHTS ${encodeName(session, access.name)} ${astring(formatRights(access.rights))}`);
    return ok('MYRIGHTS completed');
  },
});
