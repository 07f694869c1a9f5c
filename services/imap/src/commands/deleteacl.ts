import { AclError } from '@hermod/mail-store';
import { accessMailbox } from '../acl/access.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';

/** DELETEACL mailbox identifier (RFC 4314 3.2); needs the a right. */
export const deleteAclCommand = defineCommand({
  name: 'DELETEACL',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const identifier = args.astring('identifier');
    args.end();
    return { mailbox, identifier };
  },
  async run(session, { mailbox, identifier }) {
    if (identifier.startsWith('-')) return no('Negative rights are not supported', 'CANNOT');
    const access = await accessMailbox(session, mailbox, 'a');
    try {
      await session.backend.deleteAcl(access.ownerId, access.box.id, identifier);
    } catch (error) {
      if (error instanceof AclError) return no(error.message, 'CANNOT');
      throw error;
    }
    return ok('DELETEACL completed');
  },
});
