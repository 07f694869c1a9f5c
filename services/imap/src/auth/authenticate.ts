import type { LoginGuard } from '../session/session.js';
import type { AuthenticatedUser, MailBackend } from '../store/mail-backend.js';

export type LoginOutcome = { ok: true; user: AuthenticatedUser } | { ok: false; reason: 'failed' | 'locked' };

/** One login attempt through the guard: lockout check, password check, delay on failure. */
export async function attemptLogin(
  backend: MailBackend,
  guard: LoginGuard,
  remoteAddress: string,
  username: string,
  password: string,
): Promise<LoginOutcome> {
  if (!(await guard.check(remoteAddress, username))) {
    await guard.failed(remoteAddress, username);
    return { ok: false, reason: 'locked' };
  }
  const user = await backend.authenticate(username, password);
  if (!user) {
    await guard.failed(remoteAddress, username);
    return { ok: false, reason: 'failed' };
  }
  guard.succeeded(remoteAddress, username);
  return { ok: true, user };
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
