import { selectedRights } from '../acl/access.js';
import { anyState } from '../session/states.js';
import { defineCommand, ok } from './command.js';

/**
 * NOOP and CHECK: the session reports pending mailbox changes after every such command, and, in
 * another account's mailbox, a PERMANENTFLAGS when the rights changed (RFC 4314 5.1.1).
 */
export const noopCommand = defineCommand({
  name: 'NOOP',
  states: anyState,
  parse: (args) => args.end(),
  async run(session) {
    if (session.selected) await selectedRights(session);
    return ok('NOOP completed');
  },
});

export const checkCommand = defineCommand({
  name: 'CHECK',
  states: ['selected'],
  parse: (args) => args.end(),
  async run(session) {
    await selectedRights(session);
    return ok('CHECK completed');
  },
});
