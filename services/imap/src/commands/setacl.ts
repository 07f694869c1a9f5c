import { AclError } from '@hermod/mail-store';
import { accessMailbox } from '../acl/access.js';
import { parseModRights } from '../acl/rights.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';

/** SETACL mailbox identifier mod-rights (RFC 4314 3.1); needs the a right. */
export const setAclCommand = defineCommand({
  name: 'SETACL',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const identifier = args.astring('identifier');
    const change = parseModRights(args.astring('rights'));
    args.end();
    // An unknown right is a syntax error (RFC 4314 3.1).
    if ('error' in change) throw new BadArgumentsError(change.error);
    return { mailbox, identifier, change };
  },
  async run(session, { mailbox, identifier, change }) {
    if (identifier.startsWith('-')) return no('Negative rights are not supported', 'CANNOT');
    const access = await accessMailbox(session, mailbox, 'a');
    try {
      await session.backend.setAcl(access.ownerId, access.box.id, identifier, change);
    } catch (error) {
      if (error instanceof AclError) return no(error.message, 'CANNOT');
      throw error;
    }
    return ok('SETACL completed');
  },
});
