import { type SieveCommand, SieveState } from '../session.js';

/** UNAUTHENTICATE (RFC 5804 2.14): back to the non-authenticated state, TLS kept. */
export const unauthenticateCommand: SieveCommand = {
  name: 'UNAUTHENTICATE',
  states: [SieveState.Authenticated],
  args: [0, 0],
  async run(session) {
    session.leave();
    return { status: 'OK' };
  },
};
