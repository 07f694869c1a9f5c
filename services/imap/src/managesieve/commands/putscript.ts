import { okWithWarnings } from '../replies.js';
import { type SieveCommand, SieveState } from '../session.js';

/** PUTSCRIPT name script: compiled first; an invalid script is refused with line and column. */
export const putscriptCommand: SieveCommand = {
  name: 'PUTSCRIPT',
  states: [SieveState.Authenticated],
  args: [2, 2],
  async run(session, [name, source]) {
    return okWithWarnings(await session.deps.scripts.put(session.owner, name!, source!));
  },
};
