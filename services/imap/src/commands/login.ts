import { attemptLogin, type LoginOutcome } from '../auth/authenticate.js';
import type { ImapSession } from '../session/session.js';
import { notAuthenticated } from '../session/states.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

/** Shared by LOGIN and AUTHENTICATE: the guard, the per-user cap, and the CAPABILITY code after login. */
export async function completeLogin(
  session: ImapSession,
  username: string,
  password: string,
): Promise<CommandResult> {
  const outcome = await attemptLogin(
    session.deps.loginGuard,
    session.remoteAddress,
    username,
    password,
    'imap',
  );
  return answerLogin(session, username, outcome);
}

/** The reply to a login attempt (password or token): counts failures, closes after too many. */
export function answerLogin(session: ImapSession, username: string, outcome: LoginOutcome): CommandResult {
  if (!outcome.ok) {
    session.authFailures++;
    session.logger.info({ user: username, reason: outcome.reason }, 'login failed');
    if (session.authFailures >= session.deps.limits.maxAuthFailures) {
      session.untagged('BYE Too many failed logins');
      session.close();
    }
    return no(
      outcome.reason === 'locked' ? 'Too many failed logins, try again later' : 'Invalid credentials',
      outcome.reason === 'locked' ? 'UNAVAILABLE' : 'AUTHENTICATIONFAILED',
    );
  }
  return loggedIn(session, outcome.user);
}

function loggedIn(session: ImapSession, user: AuthenticatedUser): CommandResult {
  if (!session.login(user)) return no('Too many connections for this user', 'LIMIT');
  return ok('Logged in', `CAPABILITY ${session.capabilities().join(' ')}`);
}

export const loginCommand = defineCommand({
  name: 'LOGIN',
  states: notAuthenticated,
  parse(args) {
    const username = args.astring('user name');
    const password = args.astring('password');
    args.end();
    return { username, password };
  },
  async run(session, { username, password }) {
    if (!session.secure && !session.deps.allowPlaintextAuth)
      return no('Use STARTTLS first', 'PRIVACYREQUIRED');
    return completeLogin(session, username, password);
  },
});
