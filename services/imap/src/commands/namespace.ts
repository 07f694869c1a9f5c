import { SHARED_PREFIX } from '../acl/shared-namespace.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';

export const namespaceCommand = defineCommand({
  name: 'NAMESPACE',
  states: authenticated,
  parse: (args) => args.end(),
  async run(session) {
    // Personal, other users' (RFC 2342: Shared/owner@domain/...), no public folders.
    session.untagged(`NAMESPACE (("" "/")) (("${SHARED_PREFIX}" "/")) NIL`);
    return ok('NAMESPACE completed');
  },
});
