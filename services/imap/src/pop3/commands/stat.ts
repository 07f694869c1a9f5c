import { type Pop3Command, Pop3State } from '../pop3-session.js';

export const statCommand: Pop3Command = {
  name: 'STAT',
  states: [Pop3State.Transaction],
  async run(session) {
    const live = session.messages.filter((_, i) => !session.deleted.has(i + 1));
    return { ok: true, text: `${live.length} ${live.reduce((n, m) => n + m.size, 0)}` };
  },
};
