import { notAuthenticated } from '../session/states.js';
import { defineCommand, no } from './command.js';

export const starttlsCommand = defineCommand({
  name: 'STARTTLS',
  states: notAuthenticated,
  parse: (args) => args.end(),
  async run(session, _args, tag) {
    if (session.secure) return { status: 'BAD', text: 'TLS is already active' };
    if (!session.deps.serverTls) return no('TLS is not available');
    session.tagged(tag, { status: 'OK', text: 'Begin TLS negotiation now' });
    await session.startTls();
    // The tagged reply is already sent; the session must not send another.
    return { status: 'OK', text: '', silent: true };
  },
});
