import { type SieveCommand, SieveState } from '../session.js';

export const renamescriptCommand: SieveCommand = {
  name: 'RENAMESCRIPT',
  states: [SieveState.Authenticated],
  args: [2, 2],
  async run(session, [from, to]) {
    await session.deps.scripts.rename(session.owner, from!, to!);
    return { status: 'OK' };
  },
};
