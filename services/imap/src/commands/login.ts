import { attemptLogin, type LoginOutcome } from '../auth/authenticate.js';
import type { CommandContext } from '../session/command-context.js';
import { notAuthenticated } from '../session/states.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

/** Shared by LOGIN and AUTHENTICATE: the guard, the per-user cap, and the CAPABILITY code after login. */
export async function completeLogin(
  session: CommandContext,
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
export function answerLogin(session: CommandContext, username: string, outcome: LoginOutcome): CommandResult {
  if (!outcome.ok) {
    const locked = outcome.reason === 'locked';
    session.deps.refused(session.logger, locked ? 'auth-locked' : 'auth-failed', {
      code: locked ? 'UNAVAILABLE' : 'AUTHENTICATIONFAILED',
      user: username,
    });
    if (session.recordAuthFailure() >= session.deps.limits.maxAuthFailures) {
      session.untagged('BYE Too many failed logins');
      session.close();
    }
    return no(
      locked ? 'Too many failed logins, try again later' : 'Invalid credentials',
      locked ? 'UNAVAILABLE' : 'AUTHENTICATIONFAILED',
    );
  }
  return loggedIn(session, outcome.user);
}

/** LOGIN or AUTHENTICATE without TLS where plaintext logins are not allowed. */
export function privacyRequired(session: CommandContext): CommandResult {
  session.deps.refused(session.logger, 'encryption-required', { code: 'PRIVACYREQUIRED' });
  return no('Use STARTTLS first', 'PRIVACYREQUIRED');
}

function loggedIn(session: CommandContext, user: AuthenticatedUser): CommandResult {
  if (!session.login(user)) {
    session.deps.refused(session.logger, 'account-limit', { code: 'LIMIT', user: user.address });
    return no('Too many connections for this user', 'LIMIT');
  }
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
    if (!session.secure && !session.deps.allowPlaintextAuth) return privacyRequired(session);
    return completeLogin(session, username, password);
  },
});
