import {
  attemptLogin,
  attemptTokenLogin,
  decodeSaslPlain,
  isBearerMechanism,
  type LoginOutcome,
  saslMechanisms,
} from '../../auth/authenticate.js';
import { type Pop3Command, type Pop3Reply, type Pop3Session, Pop3State } from '../pop3-session.js';

const authorization = [Pop3State.Authorization] as const;

async function login(session: Pop3Session, username: string, password: string): Promise<Pop3Reply> {
  const outcome = await attemptLogin(
    session.deps.loginGuard,
    session.remoteAddress,
    username,
    password,
    'pop3',
  );
  return answer(session, outcome);
}

async function answer(session: Pop3Session, outcome: LoginOutcome): Promise<Pop3Reply> {
  if (!outcome.ok) {
    session.authFailures++;
    const locked = outcome.reason === 'locked';
    session.deps.refused(session.logger, locked ? 'auth-locked' : 'auth-failed', {
      code: locked ? 'SYS/TEMP' : 'AUTH',
    });
    if (session.authFailures >= session.deps.maxAuthFailures) {
      session.write('-ERR [AUTH] Too many failed logins\r\n');
      session.close();
      return { ok: false, text: '', silent: true };
    }
    return {
      ok: false,
      text: locked ? '[SYS/TEMP] Too many failed logins, try again later' : '[AUTH] Invalid credentials',
    };
  }
  return session.enter(outcome.user);
}

/** The SASL mechanisms POP3 AUTH offers (RFC 5034); the bearer ones only with an OIDC issuer. */
export const mechanisms = (session: Pop3Session): string[] => saslMechanisms(session.deps.loginGuard);

function needsTls(session: Pop3Session): Pop3Reply | undefined {
  if (session.secure || session.deps.allowPlaintextAuth) return undefined;
  session.deps.refused(session.logger, 'encryption-required', { code: 'AUTH' });
  return { ok: false, text: '[AUTH] Use STLS first' };
}

/** A SASL response that cannot be read. */
function malformed(session: Pop3Session, text: string): Pop3Reply {
  session.deps.refused(session.logger, 'auth-malformed', { code: '-ERR' });
  return { ok: false, text };
}

export const userCommand: Pop3Command = {
  name: 'USER',
  states: authorization,
  async run(session, args) {
    const refused = needsTls(session);
    if (refused) return refused;
    if (args.length !== 1 || !args[0]) return { ok: false, text: 'USER needs a name' };
    session.pendingUser = args[0];
    return { ok: true, text: 'Send PASS' };
  },
};

export const passCommand: Pop3Command = {
  name: 'PASS',
  states: authorization,
  async run(session, args) {
    const refused = needsTls(session);
    if (refused) return refused;
    const user = session.pendingUser;
    session.pendingUser = undefined;
    if (!user) return { ok: false, text: 'Send USER first' };
    // A password may contain spaces (RFC 1939 7).
    return login(session, user, args.join(' '));
  },
};

export const authCommand: Pop3Command = {
  name: 'AUTH',
  states: authorization,
  async run(session, args) {
    const refused = needsTls(session);
    if (refused) return refused;
    if (args.length === 0)
      return {
        ok: true,
        text: 'Mechanisms follow',
        body: [Buffer.from(`${mechanisms(session).join('\r\n')}\r\n.\r\n`)],
      };
    const mechanism = args[0]?.toUpperCase() ?? '';
    if (!mechanisms(session).includes(mechanism)) {
      session.deps.refused(session.logger, 'auth-mechanism', { code: '-ERR' });
      return { ok: false, text: 'Unsupported mechanism' };
    }
    let response = args[1];
    if (response === undefined) {
      session.write('+ \r\n');
      response = (await session.readLine()) ?? '*';
    }
    if (response === '*') return { ok: false, text: 'Authentication cancelled' };
    if (isBearerMechanism(mechanism)) {
      const outcome = await attemptTokenLogin(session, mechanism, response, async (challenge) => {
        session.write(`+ ${challenge}\r\n`);
        return session.readLine();
      });
      if (outcome === 'malformed') return malformed(session, `Invalid SASL ${mechanism} response`);
      return answer(session, outcome);
    }
    const credentials = decodeSaslPlain(response === '=' ? '' : response);
    if (!credentials) return malformed(session, 'Invalid SASL PLAIN response');
    return login(session, credentials.username, credentials.password);
  },
};
