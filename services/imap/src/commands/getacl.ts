import { accessMailbox } from '../acl/access.js';
import { formatRights } from '../acl/rights.js';
import { astring } from '../protocol/compose.js';
import { authenticated } from '../session/states.js';
import { defineCommand, mailboxOnly, ok } from './command.js';
import { encodeName } from './list.js';

/** GETACL mailbox (RFC 4314 3.3): `* ACL mailbox identifier rights ...`; needs the a right. */
export const getAclCommand = defineCommand({
  name: 'GETACL',
  states: authenticated,
  parse: mailboxOnly,
  async run(session, mailbox) {
    const access = await accessMailbox(session, mailbox, 'a');
    const entries = await session.backend.getAcl(access.box.id);
    const pairs = entries.map((e) => ` ${astring(e.identifier)} ${astring(formatRights(e.rights))}`);
    session.untagged(`ACL ${encodeName(session, access.name)}${pairs.join('')}`);
    return ok('GETACL completed');
  },
});
