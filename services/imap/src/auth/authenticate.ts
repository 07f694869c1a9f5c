import { decodeBearerResponse } from '@hermod/accounts';
import type { LoginGuard } from '../session/session.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';

export type LoginOutcome = { ok: true; user: AuthenticatedUser } | { ok: false; reason: 'failed' | 'locked' };

/** One login attempt through the shared LoginGate (lockout check, password check, delay on failure). */
export async function attemptLogin(
  guard: LoginGuard,
  remoteAddress: string,
  username: string,
  password: string,
  scope: 'imap' | 'pop3' | 'managesieve',
): Promise<LoginOutcome> {
  const outcome = await guard.login(remoteAddress, username, password, scope);
  if (!outcome.ok) return outcome;
  return { ok: true, user: { id: outcome.account.id, address: outcome.account.address } };
}

/** Decodes a SASL PLAIN message: authzid NUL authcid NUL password. */
export function decodeSaslPlain(base64: string): { username: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return undefined;
  const parts = Buffer.from(base64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) return undefined;
  const [authzid, username, password] = parts as [string, string, string];
  if (!username || (authzid && authzid !== username)) return undefined;
  return { username, password };
}

/**
 * The SASL mechanisms POP3 AUTH (RFC 5034) and ManageSieve (RFC 5804) offer: PLAIN, and the bearer
 * ones only when an OIDC issuer is configured.
 */
export const saslMechanisms = (guard: LoginGuard): string[] =>
  guard.acceptsTokens ? ['PLAIN', 'OAUTHBEARER', 'XOAUTH2'] : ['PLAIN'];

export type BearerMechanism = 'OAUTHBEARER' | 'XOAUTH2';
export const isBearerMechanism = (name: string): name is BearerMechanism =>
  name === 'OAUTHBEARER' || name === 'XOAUTH2';

/**
 * One OAUTHBEARER / XOAUTH2 login of a session (IMAP, POP3, ManageSieve) through the LoginGate. A
 * refused token gets the RFC 7628 error challenge (RFC 7628 3.2.2: the JSON status; `challenge`
 * sends it the protocol's way and reads the client's dummy response), then the failure is returned;
 * a malformed client response is 'malformed' (the caller answers it as a protocol error).
 */
export async function attemptTokenLogin(
  session: { deps: { loginGuard: LoginGuard }; remoteAddress: string },
  mechanism: BearerMechanism,
  response: string,
  challenge: (base64: string) => Promise<unknown>,
): Promise<(LoginOutcome & { name: string }) | 'malformed'> {
  const credentials = decodeBearerResponse(mechanism, response);
  if (!credentials) return 'malformed';
  const outcome = await session.deps.loginGuard.loginWithToken(
    session.remoteAddress,
    credentials.user,
    credentials.token,
  );
  const name = credentials.user ?? '(token)';
  if (!outcome.ok) {
    if (outcome.reason === 'failed') await challenge(outcome.challenge);
    return { ok: false, reason: outcome.reason, name };
  }
  return { ok: true, user: { id: outcome.account.id, address: outcome.account.address }, name };
}
