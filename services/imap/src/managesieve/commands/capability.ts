import { type SieveCommand, SieveState } from '../session.js';

export const capabilityCommand: SieveCommand = {
  name: 'CAPABILITY',
  states: [SieveState.NotAuthenticated, SieveState.Authenticated],
  args: [0, 0],
  async run(session) {
    return session.capabilityReply();
  },
};
