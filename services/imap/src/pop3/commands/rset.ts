import { type Pop3Command, Pop3State } from '../pop3-session.js';

export const rsetCommand: Pop3Command = {
  name: 'RSET',
  states: [Pop3State.Transaction],
  async run(session) {
    session.deleted.clear();
    return { ok: true, text: `${session.messages.length} messages` };
  },
};

export const noopCommand: Pop3Command = {
  name: 'NOOP',
  states: [Pop3State.Transaction],
  run: async () => ({ ok: true, text: '' }),
};
