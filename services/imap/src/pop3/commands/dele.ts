import { type Pop3Command, Pop3State } from '../pop3-session.js';

export const deleCommand: Pop3Command = {
  name: 'DELE',
  states: [Pop3State.Transaction],
  async run(session, args) {
    if (!session.message(args[0])) return { ok: false, text: 'No such message' };
    session.deleted.add(Number(args[0]));
    return { ok: true, text: 'Marked for deletion' };
  },
};
