import { ALL_RIGHTS } from '@hermod/mail-store';
import { accessMailbox } from '../acl/access.js';
import { parseMailboxIdentifier } from '../acl/acl-arguments.js';
import { formatRights, OPTIONAL_RIGHTS } from '../acl/rights.js';
import { astring } from '../protocol/compose.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';
import { encodeName } from './list.js';

/**
 * LISTRIGHTS mailbox identifier (RFC 4314 3.4); needs the a right. The owner always holds every
 * right (all required, c and d with them, nothing optional); anyone else may be granted each right
 * on its own, and the RFC 2086 groups c (k x) and d (t e).
 */
export const listRightsCommand = defineCommand({
  name: 'LISTRIGHTS',
  states: authenticated,
  parse(args, session) {
    const target = parseMailboxIdentifier(args, session);
    args.end();
    return target;
  },
  async run(session, { mailbox, identifier }) {
    const access = await accessMailbox(session, mailbox, 'a');
    const owner = await session.backend.isOwnerIdentifier(access.ownerId, identifier);
    const rights = owner ? [formatRights(ALL_RIGHTS)] : ['""', ...OPTIONAL_RIGHTS, 'c', 'd'];
    session.untagged(
      `LISTRIGHTS ${encodeName(session, access.name)} ${astring(identifier)} ${rights.join(' ')}`,
    );
    return ok('LISTRIGHTS completed');
  },
});
