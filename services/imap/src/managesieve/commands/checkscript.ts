import { okWithWarnings } from '../replies.js';
import { type SieveCommand, SieveState } from '../session.js';

export const checkscriptCommand: SieveCommand = {
  name: 'CHECKSCRIPT',
  states: [SieveState.Authenticated],
  args: [1, 1],
  async run(session, [source]) {
    return okWithWarnings(await session.deps.scripts.check(session.owner, source!));
  },
};
