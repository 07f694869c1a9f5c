import { accessMailbox } from '../acl/access.js';
import { aclChange, parseMailboxIdentifier } from '../acl/acl-arguments.js';
import { authenticated } from '../session/states.js';
import { defineCommand } from './command.js';

/** DELETEACL mailbox identifier (RFC 4314 3.2); needs the a right. */
export const deleteAclCommand = defineCommand({
  name: 'DELETEACL',
  states: authenticated,
  parse(args, session) {
    const target = parseMailboxIdentifier(args, session);
    args.end();
    return target;
  },
  run: (session, { mailbox, identifier }) =>
    aclChange(
      identifier,
      async () => {
        const access = await accessMailbox(session, mailbox, 'a');
        await session.backend.deleteAcl(access.ownerId, access.box.id, identifier);
      },
      'DELETEACL completed',
    ),
});
