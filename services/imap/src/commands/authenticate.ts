import { attemptTokenLogin, decodeSaslPlain, isBearerMechanism } from '../auth/authenticate.js';
import type { CommandContext } from '../session/command-context.js';
import { notAuthenticated } from '../session/states.js';
import { defineCommand, no } from './command.js';
import { answerLogin, completeLogin, privacyRequired } from './login.js';

/** A SASL response that cannot be read (a protocol error: BAD). */
function malformed(session: CommandContext, text: string) {
  session.deps.refused(session.logger, 'auth-malformed', { code: 'BAD' });
  return { status: 'BAD' as const, text };
}

/** One SASL continuation round: '+ challenge', then the client's line ('*' cancels). */
async function exchange(session: CommandContext, challenge: string): Promise<string | undefined> {
  session.write(`+ ${challenge}\r\n`);
  const line = await session.readLine();
  if (line === null || line.trim() === '*') return undefined;
  return line.trim();
}

const fromBase64 = (text: string) =>
  /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : undefined;

/**
 * AUTHENTICATE PLAIN and LOGIN, and OAUTHBEARER (RFC 7628) and XOAUTH2 when an OIDC issuer is
 * configured, with SASL-IR (RFC 4959) initial responses.
 */
export const authenticateCommand = defineCommand({
  name: 'AUTHENTICATE',
  states: notAuthenticated,
  parse(args) {
    const mechanism = args.atom('mechanism').toUpperCase();
    const initial = args.remaining > 0 ? args.atom('initial response') : undefined;
    args.end();
    return { mechanism, initial };
  },
  async run(session, { mechanism, initial }) {
    if (!session.secure && !session.deps.allowPlaintextAuth) return privacyRequired(session);
    if (mechanism === 'PLAIN') {
      const response = initial === undefined ? await exchange(session, '') : initial === '=' ? '' : initial;
      if (response === undefined) return { status: 'BAD', text: 'Authentication cancelled' };
      const credentials = decodeSaslPlain(response);
      if (!credentials) return malformed(session, 'Invalid SASL PLAIN response');
      return completeLogin(session, credentials.username, credentials.password);
    }
    if (mechanism === 'LOGIN') {
      const userLine = initial ?? (await exchange(session, Buffer.from('Username:').toString('base64')));
      const username = userLine === undefined ? undefined : fromBase64(userLine);
      if (username === undefined) return { status: 'BAD', text: 'Authentication cancelled' };
      const passLine = await exchange(session, Buffer.from('Password:').toString('base64'));
      const password = passLine === undefined ? undefined : fromBase64(passLine);
      if (password === undefined) return { status: 'BAD', text: 'Authentication cancelled' };
      return completeLogin(session, username, password);
    }
    if (isBearerMechanism(mechanism) && session.deps.loginGuard.acceptsTokens) {
      const response = initial ?? (await exchange(session, ''));
      if (response === undefined) return { status: 'BAD', text: 'Authentication cancelled' };
      const outcome = await attemptTokenLogin(session, mechanism, response, (challenge) =>
        exchange(session, challenge),
      );
      if (outcome === 'malformed') return malformed(session, `Invalid SASL ${mechanism} response`);
      return answerLogin(session, outcome.name, outcome);
    }
    session.deps.refused(session.logger, 'auth-mechanism', { code: 'CANNOT' });
    return no('Unsupported authentication mechanism', 'CANNOT');
  },
});
