import { anyState } from '../session/states.js';
import { defineCommand, ok } from './command.js';

export const capabilityCommand = defineCommand({
  name: 'CAPABILITY',
  states: anyState,
  parse: (args) => args.end(),
  async run(session) {
    session.untagged(`CAPABILITY ${session.capabilities().join(' ')}`);
    return ok('Capability completed');
  },
});
