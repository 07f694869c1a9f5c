import sasl from 'smtp-server/lib/sasl.js';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** The smtp-server version whose private members are named below; every package.json pins it exactly. */
export const CHECKED_SMTP_SERVER_VERSION = '3.21.6';

type Done = () => void;

/** What smtp-server's connection keeps of its server: options, the onAuth hook, and its events. */
export interface ServerInternals {
  options: { allowInsecureAuth?: boolean; size?: number };
  onAuth(
    auth: { method: string; username: string; accessToken: string },
    session: unknown,
    callback: (
      error: (Error & { responseCode?: number }) | null,
      response?: { user?: unknown; data?: unknown },
    ) => void,
  ): void;
  emit(event: string, value: unknown): boolean;
}

/**
 * The one place that names smtp-server's private members. smtp-server has no public option for
 * what needs them: hiding AUTH from EHLO before TLS (refuse-auth-before-tls.ts), our enhanced status
 * codes on its own replies (enhanced-status-codes.ts), the OAUTHBEARER mechanism
 * (oauthbearer-mechanism.ts), and the RFC 5321/4954 rules its command handlers skip (command-rules.ts). Those patches reach the library only through these types.
 * test/smtp-server-internals.test.ts fails on any version change, checks that every member below is
 * there, and runs each patch against a real server.
 */
export interface ConnectionInternals {
  secure: boolean;
  session: { id: string; user?: unknown; transmissionType?: string; envelope?: { mailFrom?: unknown } };
  _server: ServerInternals;
  /** The handler of the next client line (a SASL continuation), false when commands are read. */
  _nextHandler: ((data: Buffer | string, done: Done) => void) | false;
  _transmissionType(): string;
  /** Whether a command (or, while EHLO lists features, a keyword) is offered. */
  _isSupported(command: string): boolean;
  handler_EHLO(command: unknown, callback: Done): unknown;
  handler_AUTH(command: Buffer | string, callback: Done): unknown;
  handler_DATA(command: Buffer | string, callback: Done): unknown;
  handler_RSET(command: Buffer | string, callback: Done): unknown;
  send(code: number, data?: unknown, context?: string | false): unknown;
}

/** A SASL mechanism as smtp-server's AUTH command calls it (`SASL_<NAME>` in its table). */
export type SaslMechanism = (this: ConnectionInternals, args: string[], done: Done) => void;

/** The prototype of smtp-server's connection class, which the patches wrap. */
export const connectionPrototype = SMTPConnection.prototype as unknown as ConnectionInternals;

/** smtp-server's table of SASL mechanisms: AUTH looks a mechanism up as `SASL_<NAME>`. */
export const saslMechanisms = sasl as unknown as Record<string, SaslMechanism | undefined>;

/** Applies a patch to smtp-server once per process, however often the module making it is loaded. */
export function patchOnce(name: string, patch: () => void): void {
  const marks = connectionPrototype as unknown as Record<symbol, boolean>;
  const key = Symbol.for(`hermod.${name}`);
  if (marks[key]) return;
  marks[key] = true;
  patch();
}
