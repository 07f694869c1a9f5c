import { type SieveCommand, SieveState } from '../session.js';

/** GETSCRIPT name: the source as uploaded, as a literal. */
export const getscriptCommand: SieveCommand = {
  name: 'GETSCRIPT',
  states: [SieveState.Authenticated],
  args: [1, 1],
  async run(session, [name]) {
    const script = await session.deps.scripts.get(session.owner, name!);
    return { status: 'OK', data: [`{${Buffer.byteLength(script.source)}}\r\n${script.source}`] };
  },
};
