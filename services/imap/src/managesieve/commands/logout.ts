import { type SieveCommand, SieveState } from '../session.js';

export const logoutCommand: SieveCommand = {
  name: 'LOGOUT',
  states: [SieveState.NotAuthenticated, SieveState.Authenticated],
  args: [0, 0],
  async run() {
    return { status: 'OK', text: 'Logout complete', close: true };
  },
};
