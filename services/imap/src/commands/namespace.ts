import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';

export const namespaceCommand = defineCommand({
  name: 'NAMESPACE',
  states: authenticated,
  parse: (args) => args.end(),
  async run(session) {
    session.untagged('NAMESPACE (("" "/")) NIL NIL');
    return ok('NAMESPACE completed');
  },
});
