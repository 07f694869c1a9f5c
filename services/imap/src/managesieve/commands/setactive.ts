import { type SieveCommand, SieveState } from '../session.js';

/** SETACTIVE name; SETACTIVE "" deactivates every script. */
export const setactiveCommand: SieveCommand = {
  name: 'SETACTIVE',
  states: [SieveState.Authenticated],
  args: [1, 1],
  async run(session, [name]) {
    await session.deps.scripts.activate(session.owner, name!);
    return { status: 'OK' };
  },
};
