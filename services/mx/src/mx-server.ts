import type { ServerTls } from '@hermod/service-runtime';
import {
  type LibraryRefusal,
  libraryRefusalReason,
  limitSessionErrors,
  refuseUnofferedParameters,
  timeSmtpHooks,
} from '@hermod/smtp';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from './deps.js';
import { onClose, onConnect } from './hooks/on-connect.js';
import { onData } from './hooks/on-data.js';
import { onMailFrom } from './hooks/on-mail-from.js';
import { onRcptTo } from './hooks/on-rcpt-to.js';

/**
 * The MX SMTP server: no AUTH on this port, STARTTLS when a certificate is configured, every guard
 * in the hooks. smtp-server ends DATA only on CRLF.CRLF and discards input pipelined after STARTTLS.
 */
export function createMxServer(
  deps: MxDeps,
  tls: { key: Buffer; cert: Buffer; SNICallback?: ServerTls['SNICallback'] } | undefined,
): SMTPServer {
  const { config } = deps;
  const options: SMTPServerOptions = {
    name: config.MX_HOSTNAME,
    banner: config.MX_BANNER,
    ...(tls
      ? { key: tls.key, cert: tls.cert, ...(tls.SNICallback ? { SNICallback: tls.SNICallback } : {}) }
      : { hideSTARTTLS: true }),
    secure: false,
    size: config.MX_MAX_MESSAGE_BYTES,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    authOptional: true,
    // RFC 2034: advertised, and on every reply; our hooks choose theirs (see enhanced-status-codes.ts).
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    // RFC 8689: smtp-server lists REQUIRETLS only once TLS is up and refuses the parameter before it.
    hideREQUIRETLS: false,
    disableReverseLookup: true,
    maxClients: config.MX_MAX_CLIENTS,
    maxCommandLength: config.MX_MAX_LINE_LENGTH,
    socketTimeout: config.MX_SOCKET_TIMEOUT_MS,
    closeTimeout: 30_000,
    logger: false,
    onConnect: onConnect(deps),
    onClose: onClose(deps),
    ...timeSmtpHooks(
      { onMailFrom: onMailFrom(deps), onRcptTo: onRcptTo(deps), onData: onData(deps) },
      deps.metrics.phases,
    ),
  };
  // A MAIL/RCPT parameter of an extension not offered (AUTH=, the DSN ones) gets 555 before the hooks run.
  const server = new SMTPServer(refuseUnofferedParameters(options, deps.refused));
  limitSessionErrors(server, config.MX_MAX_ERRORS);
  server.on('error', (error) => deps.logger.warn({ err: error }, 'smtp connection error'));
  server.on('hermod:refused', (r: LibraryRefusal) =>
    deps.refused(r.session, libraryRefusalReason(r.context, r.code), { code: r.code, text: r.text }),
  );
  return server;
}
