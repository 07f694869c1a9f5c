import { accessMailbox } from '../acl/access.js';
import { aclChange, parseMailboxIdentifier } from '../acl/acl-arguments.js';
import { parseModRights } from '../acl/rights.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { authenticated } from '../session/states.js';
import { defineCommand } from './command.js';

/** SETACL mailbox identifier mod-rights (RFC 4314 3.1); needs the a right. */
export const setAclCommand = defineCommand({
  name: 'SETACL',
  states: authenticated,
  parse(args, session) {
    const target = parseMailboxIdentifier(args, session);
    const change = parseModRights(args.astring('rights'));
    args.end();
    // An unknown right is a syntax error (RFC 4314 3.1).
    if ('error' in change) throw new BadArgumentsError(change.error);
    return { ...target, change };
  },
  run: (session, { mailbox, identifier, change }) =>
    aclChange(
      identifier,
      async () => {
        const access = await accessMailbox(session, mailbox, 'a');
        await session.backend.setAcl(access.ownerId, access.box.id, identifier, change);
      },
      'SETACL completed',
    ),
});
