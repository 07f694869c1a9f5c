import { dotStuff } from '../dot-stuff.js';
import { type Pop3Command, Pop3State } from '../pop3-session.js';
import { GONE, presentBody } from '../present-body.js';

export const retrCommand: Pop3Command = {
  name: 'RETR',
  states: [Pop3State.Transaction],
  async run(session, args) {
    const message = session.message(args[0]);
    if (!message) return { ok: false, text: 'No such message' };
    const body = await presentBody(message, session.backend.readBody(message.bodyId));
    if (!body) return { ok: false, text: GONE };
    return { ok: true, text: `${message.size} octets`, body: dotStuff(body) };
  },
};
