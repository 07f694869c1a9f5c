import { sieveString } from '../command-reader.js';
import { type SieveCommand, SieveState } from '../session.js';

/** NOOP ["tag"]: the optional argument comes back as the TAG response code (RFC 5804 2.13). */
export const noopCommand: SieveCommand = {
  name: 'NOOP',
  states: [SieveState.NotAuthenticated, SieveState.Authenticated],
  args: [0, 1],
  async run(_session, [tag]) {
    return tag === undefined
      ? { status: 'OK', text: 'Done' }
      : { status: 'OK', code: `TAG ${sieveString(tag)}`, text: 'Done' };
  },
};
