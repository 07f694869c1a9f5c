import { attemptLogin, decodeSaslPlain } from '../../auth/authenticate.js';
import { type SieveCommand, type SieveReply, SieveState } from '../session.js';

/**
 * AUTHENTICATE "PLAIN" ["initial response"] (RFC 5804 2.1), through the same login attempt as IMAP
 * and POP3: the shared guard counts failures, delays and locks out.
 */
export const authenticateCommand: SieveCommand = {
  name: 'AUTHENTICATE',
  states: [SieveState.NotAuthenticated],
  args: [1, 2],
  async run(session, [mechanism, initial]) {
    if (!session.secure && !session.deps.allowPlaintextAuth)
      return { status: 'NO', code: 'ENCRYPT-NEEDED', text: 'Use STARTTLS first' };
    if (mechanism!.toUpperCase() !== 'PLAIN') return { status: 'NO', text: 'Unsupported mechanism' };
    let response = initial;
    if (response === undefined) {
      session.write('""\r\n');
      response = (await session.readContinuation()) ?? '*';
    }
    if (response === '*') return { status: 'NO', text: 'Authentication cancelled' };
    const credentials = decodeSaslPlain(response);
    if (!credentials) return { status: 'NO', text: 'Invalid SASL PLAIN response' };
    const outcome = await attemptLogin(
      session.deps.loginGuard,
      session.remoteAddress,
      credentials.username,
      credentials.password,
      'managesieve',
    );
    if (outcome.ok) return session.enter(outcome.user);
    session.authFailures++;
    const reply: SieveReply =
      outcome.reason === 'locked'
        ? { status: 'NO', code: 'TRYLATER', text: 'Too many failed logins, try again later' }
        : { status: 'NO', text: 'Invalid credentials' };
    if (session.authFailures >= session.deps.maxAuthFailures)
      return { status: 'BYE', text: 'Too many failed logins', close: true };
    return reply;
  },
};
