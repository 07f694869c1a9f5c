import { decodeSaslPlain } from '../auth/authenticate.js';
import type { ImapSession } from '../session/session.js';
import { notAuthenticated } from '../session/states.js';
import { defineCommand, no } from './command.js';
import { completeLogin } from './login.js';

/** One SASL continuation round: '+ challenge', then the client's line ('*' cancels). */
async function exchange(session: ImapSession, challenge: string): Promise<string | undefined> {
  session.write(`+ ${challenge}\r\n`);
  const line = await session.readLine();
  if (line === null || line.trim() === '*') return undefined;
  return line.trim();
}

const fromBase64 = (text: string) =>
  /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : undefined;

/** AUTHENTICATE PLAIN and LOGIN, with SASL-IR (RFC 4959) initial responses. */
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
    if (!session.secure && !session.deps.allowPlaintextAuth)
      return no('Use STARTTLS first', 'PRIVACYREQUIRED');
    if (mechanism === 'PLAIN') {
      const response = initial === undefined ? await exchange(session, '') : initial === '=' ? '' : initial;
      if (response === undefined) return { status: 'BAD', text: 'Authentication cancelled' };
      const credentials = decodeSaslPlain(response);
      if (!credentials) return { status: 'BAD', text: 'Invalid SASL PLAIN response' };
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
    return no('Unsupported authentication mechanism', 'CANNOT');
  },
});
