import type { Logger } from '@hermod/logging';
import type { ServerTls } from '@hermod/service-runtime';
import type { LoginGuard, UserConnectionGuard } from '../session/session.js';
import type { MailBackend } from '../store/mail-backend.js';
import type { RecordLoginRefusal } from './login-refusals.js';

/** What a session of any of the three protocols needs to log a user in: the store, TLS, login. */
export interface LoginDependencies {
  backend: MailBackend;
  logger: Logger;
  /** The default certificate and the per-host (SNI) ones, read at each STARTTLS (they change on renewal). */
  serverTls: ServerTls | undefined;
  loginGuard: LoginGuard;
  /** Counts and logs refused logins (hermod_imap_rejections_total). */
  refused: RecordLoginRefusal;
  userGuard: UserConnectionGuard;
  allowPlaintextAuth: boolean;
}

/** What a POP3 or ManageSieve session needs besides its commands (IMAP's limits are its own). */
export interface LineSessionDependencies extends LoginDependencies {
  idleTimeoutMs: number;
  maxAuthFailures: number;
}
