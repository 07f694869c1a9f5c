import type { SMTPServerOptions } from 'smtp-server';
import type { RecordRefusal } from './refusals.js';
import { smtpError } from './smtp-reply.js';

/** The MAIL FROM and RCPT TO parameters a server's EHLO reply offers, by keyword (upper case). */
export interface OfferedParameters {
  mail: ReadonlySet<string>;
  rcpt: ReadonlySet<string>;
}

/**
 * The parameters of the extensions smtp-server lists in EHLO for these options: SIZE (RFC 1870),
 * BODY (8BITMIME, RFC 6152), SMTPUTF8 (RFC 6531), REQUIRETLS (RFC 8689, which smtp-server itself
 * refuses before TLS), AUTH= (RFC 4954 section 5) when AUTH is offered, and the DSN parameters
 * (RFC 3461) only when DSN is. Read from the same options the library builds its EHLO reply from,
 * so what is offered and what is accepted cannot drift apart.
 */
export function offeredParameters(options: SMTPServerOptions): OfferedParameters {
  const mail: string[] = [];
  const rcpt: string[] = [];
  if (options.size) mail.push('SIZE');
  if (!options.hide8BITMIME) mail.push('BODY');
  if (!options.hideSMTPUTF8) mail.push('SMTPUTF8');
  // smtp-server's defaults: REQUIRETLS and DSN are hidden unless asked for, AUTH offered unless disabled.
  if (options.hideREQUIRETLS === false) mail.push('REQUIRETLS');
  if (!(options.disabledCommands ?? []).some((c) => c.trim().toUpperCase() === 'AUTH')) mail.push('AUTH');
  if (options.hideDSN === false) {
    mail.push('RET', 'ENVID');
    rcpt.push('NOTIFY', 'ORCPT');
  }
  return { mail: new Set(mail), rcpt: new Set(rcpt) };
}

/** The first parameter of args that is not offered, if any. */
function unofferedParameter(
  args: Record<string, unknown> | false | undefined,
  offered: ReadonlySet<string>,
): string | undefined {
  return Object.keys(args || {}).find((key) => !offered.has(key.toUpperCase()));
}

/**
 * The options with MAIL FROM and RCPT TO refusing any parameter whose extension the server does not
 * offer: 555 5.5.4 (RFC 5321 section 4.1.1.11 and 3.3), as Postfix answers, before the service's own
 * hooks run. smtp-server itself keeps every parameter it does not know.
 */
export function refuseUnofferedParameters(
  options: SMTPServerOptions,
  refused: RecordRefusal,
): SMTPServerOptions {
  const offered = offeredParameters(options);
  const { onMailFrom, onRcptTo } = options;
  const refusal = (session: { id: string }, parameter: string) => {
    refused(session, 'parameter', { code: 555, parameter });
    return smtpError(555, '5.5.4', `Unsupported parameter: ${parameter}`);
  };
  return {
    ...options,
    onMailFrom(address, session, callback) {
      const parameter = unofferedParameter(address.args, offered.mail);
      if (parameter !== undefined) callback(refusal(session, parameter));
      else if (onMailFrom) onMailFrom(address, session, callback);
      else callback();
    },
    onRcptTo(address, session, callback) {
      const parameter = unofferedParameter(address.args, offered.rcpt);
      if (parameter !== undefined) callback(refusal(session, parameter));
      else if (onRcptTo) onRcptTo(address, session, callback);
      else callback();
    },
  };
}
