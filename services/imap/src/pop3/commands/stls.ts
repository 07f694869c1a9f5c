import { type Pop3Command, Pop3State } from '../pop3-session.js';

export const stlsCommand: Pop3Command = {
  name: 'STLS',
  states: [Pop3State.Authorization],
  async run(session) {
    if (session.secure) return { ok: false, text: 'Already using TLS' };
    if (!session.deps.serverTls) return { ok: false, text: 'TLS not available' };
    // RFC 2595 4: nothing the client said in plaintext (a USER name) survives into the TLS session.
    session.pendingUser = undefined;
    session.write('+OK Begin TLS negotiation\r\n');
    await session.startTls();
    return { ok: true, text: '', silent: true };
  },
};
