import { type Pop3Command, Pop3State } from '../pop3-session.js';
import { mechanisms } from './login.js';

export const capaCommand: Pop3Command = {
  name: 'CAPA',
  states: [Pop3State.Authorization, Pop3State.Transaction],
  async run(session) {
    const lines = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (session.state === Pop3State.Authorization) {
      if (!session.secure && session.deps.serverTls) lines.push('STLS');
      if (session.secure || session.deps.allowPlaintextAuth)
        lines.push('USER', `SASL ${mechanisms(session).join(' ')}`);
    }
    lines.push('IMPLEMENTATION Hermod');
    return {
      ok: true,
      text: 'Capability list follows',
      body: [Buffer.from(`${lines.join('\r\n')}\r\n.\r\n`)],
    };
  },
};
