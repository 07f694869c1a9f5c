import { type SieveCommand, SieveState } from '../session.js';

/** DELETESCRIPT name: the active script cannot be deleted (NO (ACTIVE)). */
export const deletescriptCommand: SieveCommand = {
  name: 'DELETESCRIPT',
  states: [SieveState.Authenticated],
  args: [1, 1],
  async run(session, [name]) {
    await session.deps.scripts.delete(session.owner, name!);
    return { status: 'OK' };
  },
};
