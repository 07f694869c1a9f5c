import { sieveString } from '../command-reader.js';
import { type SieveCommand, SieveState } from '../session.js';

export const listscriptsCommand: SieveCommand = {
  name: 'LISTSCRIPTS',
  states: [SieveState.Authenticated],
  args: [0, 0],
  async run(session) {
    const scripts = await session.deps.scripts.list(session.owner);
    return {
      status: 'OK',
      data: scripts.map((s) => `${sieveString(s.name)}${s.active ? ' ACTIVE' : ''}`),
    };
  },
};
