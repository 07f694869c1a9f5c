import { type SieveCommand, SieveState } from '../session.js';

/** HAVESPACE name size: whether a PUTSCRIPT of that size would fit the account's limits. */
export const havespaceCommand: SieveCommand = {
  name: 'HAVESPACE',
  states: [SieveState.Authenticated],
  args: [2, 2],
  async run(session, [name, size]) {
    if (!/^\d{1,10}$/.test(size!)) return { status: 'NO', text: 'Size must be a number' };
    await session.deps.scripts.haveSpace(session.owner, name!, Number(size));
    return { status: 'OK' };
  },
};
