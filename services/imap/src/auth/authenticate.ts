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
