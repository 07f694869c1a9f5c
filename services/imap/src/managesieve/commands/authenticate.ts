import {
  attemptLogin,
  attemptTokenLogin,
  decodeSaslPlain,
  isBearerMechanism,
  type LoginOutcome,
} from '../../auth/authenticate.js';
import { sieveString } from '../command-reader.js';
import type { ManageSieveSession, SieveCommand, SieveReply } from '../session.js';
import { SieveState } from '../session.js';

/** One SASL round: the challenge as a string, then the client's string ('*' or nothing cancels). */
async function exchange(session: ManageSieveSession, challenge: string): Promise<string | undefined> {
  session.write(`${sieveString(challenge)}\r\n`);
  const response = await session.readContinuation();
  return response === null || response === '*' ? undefined : response;
}

function refuse(
  session: ManageSieveSession,
  reason: 'auth-mechanism' | 'auth-malformed',
  text: string,
): SieveReply {
  session.deps.refused(session.logger, reason, { code: 'NO' });
  return { status: 'NO', text };
}

/** The reply to a login attempt: enter, or count the failure (closing after too many). */
function answer(session: ManageSieveSession, name: string, outcome: LoginOutcome): SieveReply {
  if (outcome.ok) {
    const entered = session.enter(outcome.user);
    if (entered.status !== 'OK')
      session.deps.refused(session.logger, 'account-limit', { code: 'NO', user: outcome.user.address });
    return entered;
  }
  session.authFailures++;
  const locked = outcome.reason === 'locked';
  session.deps.refused(session.logger, locked ? 'auth-locked' : 'auth-failed', {
    code: locked ? 'TRYLATER' : 'NO',
    user: name,
  });
  if (session.authFailures >= session.deps.maxAuthFailures)
    return { status: 'BYE', text: 'Too many failed logins', close: true };
  return locked
    ? { status: 'NO', code: 'TRYLATER', text: 'Too many failed logins, try again later' }
    : { status: 'NO', text: 'Invalid credentials' };
}

/**
 * AUTHENTICATE "PLAIN" ["initial response"] (RFC 5804 2.1), and "OAUTHBEARER" (RFC 7628) and
 * "XOAUTH2" when an OIDC issuer is configured, through the same login path as IMAP and POP3: the
 * shared guard counts failures, delays and locks out; tokens go through the same validator.
 */
export const authenticateCommand: SieveCommand = {
  name: 'AUTHENTICATE',
  states: [SieveState.NotAuthenticated],
  args: [1, 2],
  async run(session, [name, initial]) {
    if (!session.secure && !session.deps.allowPlaintextAuth) {
      session.deps.refused(session.logger, 'encryption-required', { code: 'ENCRYPT-NEEDED' });
      return { status: 'NO', code: 'ENCRYPT-NEEDED', text: 'Use STARTTLS first' };
    }
    const mechanism = name!.toUpperCase();
    if (!session.mechanisms().includes(mechanism))
      return refuse(session, 'auth-mechanism', 'Unsupported mechanism');
    const response = initial ?? (await exchange(session, ''));
    if (response === undefined) return { status: 'NO', text: 'Authentication cancelled' };
    if (isBearerMechanism(mechanism)) {
      const outcome = await attemptTokenLogin(session, mechanism, response, (challenge) =>
        exchange(session, challenge),
      );
      if (outcome === 'malformed')
        return refuse(session, 'auth-malformed', `Invalid SASL ${mechanism} response`);
      return answer(session, outcome.name, outcome);
    }
    const credentials = decodeSaslPlain(response);
    if (!credentials) return refuse(session, 'auth-malformed', 'Invalid SASL PLAIN response');
    const outcome = await attemptLogin(
      session.deps.loginGuard,
      session.remoteAddress,
      credentials.username,
      credentials.password,
      'managesieve',
    );
    return answer(session, credentials.username, outcome);
  },
};
