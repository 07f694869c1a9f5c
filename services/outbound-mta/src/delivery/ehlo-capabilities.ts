import { TLSSocket } from 'node:tls';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { LocalError } from './errors.js';

/** What the remote announced in its (last) EHLO reply, as nodemailer understood it. */
export interface EhloCapabilities {
  /** Upper-case keywords among SMTPUTF8, DSN, 8BITMIME, REQUIRETLS, PIPELINING, SIZE. */
  extensions: string[];
  /** The SIZE limit, 0 when none was declared. */
  maxSize: number;
}

/** The nodemailer version this reader was checked against (package.json pins it exactly). */
export const CHECKED_NODEMAILER_VERSION = '10.6.0';

/**
 * One of the private nodemailer reads, all in this file. nodemailer parses the EHLO reply into
 * `_supportedExtensions` and `_maxAllowedSize` and offers no public getter for them (only a
 * custom AUTH handler sees them, and we do not authenticate to remote MXes). The fields are
 * checked here: if an upgrade renames or retypes them this throws a LocalError (the delivery is
 * held, loudly) instead of silently reading "no extensions" and bouncing every 8-bit message;
 * test/ehlo-capabilities.test.ts fails first, against a real server, and on any version change.
 */
export function ehloCapabilities(connection: SMTPConnection): EhloCapabilities {
  const internals = connection as unknown as Record<string, unknown>;
  const extensions = internals._supportedExtensions;
  const maxSize = internals._maxAllowedSize;
  if (!Array.isArray(extensions) || !extensions.every((e) => typeof e === 'string'))
    throw new LocalError('nodemailer no longer exposes _supportedExtensions as a string array');
  if (typeof maxSize !== 'number')
    throw new LocalError('nodemailer no longer exposes _maxAllowedSize as a number');
  return { extensions: extensions.map((e: string) => e.toUpperCase()), maxSize };
}

/**
 * nodemailer's socket once TLS is up (the certificates the server sent and the protocol, for DANE
 * and TLS reports). nodemailer keeps it in the private `_socket` and has no getter. A secure
 * connection whose `_socket` is something else than a TLS socket means an upgrade moved it: a
 * LocalError, as above (test/ehlo-capabilities.test.ts pins the version).
 */
export function tlsSocketOf(connection: SMTPConnection): TLSSocket | undefined {
  if (!connection.secure) return undefined;
  const socket = (connection as unknown as Record<string, unknown>)._socket;
  if (!(socket instanceof TLSSocket))
    throw new LocalError('nodemailer no longer keeps its TLS socket in _socket');
  return socket;
}

/**
 * Sets the idle timeout of nodemailer's socket (`_socket`, plain or TLS): nodemailer has one
 * socketTimeout for the whole session, and RFC 5321 4.5.3.2 wants a longer wait for the reply to
 * the final dot than for a command. nodemailer's own 'timeout' listener stays; only the delay
 * changes. A `_socket` without setTimeout means an upgrade moved it: LocalError.
 */
export function setSocketIdleTimeout(connection: SMTPConnection, ms: number): void {
  const socket = (connection as unknown as Record<string, unknown>)._socket as
    | { setTimeout?: (ms: number) => unknown }
    | undefined;
  if (typeof socket?.setTimeout !== 'function')
    throw new LocalError('nodemailer no longer keeps its socket in _socket');
  socket.setTimeout(ms);
}

/**
 * Whether nodemailer had started a STARTTLS upgrade that did not complete: nodemailer sets
 * `upgrading` when it starts the handshake and clears it only on success, and reports a peer that
 * hangs up mid-handshake as a plain socket error (ECONNRESET), not as ETLS. Read after a failed
 * connect only (the third private read; a non-boolean means an upgrade changed it: LocalError).
 */
export function tlsUpgradeFailed(connection: SMTPConnection): boolean {
  const upgrading = (connection as unknown as Record<string, unknown>).upgrading;
  if (upgrading !== undefined && typeof upgrading !== 'boolean')
    throw new LocalError('nodemailer no longer keeps its STARTTLS state in upgrading');
  return upgrading === true && !connection.secure;
}

/**
 * nodemailer puts SMTPUTF8 on MAIL FROM only when an envelope address is not ASCII; a message
 * whose header fields are UTF-8 needs it as well (RFC 6531 section 3.4). There is no option for
 * it, so the connection's private `_sendCommand` is wrapped, once per connection, here: while
 * `wanted()` holds, a MAIL FROM command without the keyword gets it. A missing `_sendCommand`
 * means an upgrade changed it: LocalError.
 */
export function addSmtpUtf8ToMailFrom(connection: SMTPConnection, wanted: () => boolean): void {
  const internals = connection as unknown as Record<string, unknown>;
  const sendCommand = internals._sendCommand;
  if (typeof sendCommand !== 'function')
    throw new LocalError('nodemailer no longer sends its commands through _sendCommand');
  internals._sendCommand = function (this: unknown, command: unknown, ...rest: unknown[]) {
    const line =
      typeof command === 'string' &&
      wanted() &&
      /^MAIL FROM:/i.test(command) &&
      !/ SMTPUTF8(\s|$)/i.test(command)
        ? `${command} SMTPUTF8`
        : command;
    return sendCommand.call(this, line, ...rest);
  };
}
