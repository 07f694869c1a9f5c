import { type SieveCommand, SieveState } from '../session.js';

/** RFC 5804 2.2: after the handshake the server sends its capabilities again, then OK. */
export const starttlsCommand: SieveCommand = {
  name: 'STARTTLS',
  states: [SieveState.NotAuthenticated],
  args: [0, 0],
  async run(session) {
    if (session.secure) return { status: 'NO', text: 'Already using TLS' };
    if (!session.deps.serverTls) return { status: 'NO', text: 'TLS not available' };
    session.writeReply({ status: 'OK', text: 'Begin TLS negotiation now' });
    await session.startTls();
    return session.capabilityReply('TLS negotiation successful');
  },
};
