import { decodeBearerResponse } from '@hermod/accounts';
import type { ServerTls } from '@hermod/service-runtime';
import {
  type LibraryRefusal,
  libraryRefusalReason,
  limitSessionErrors,
  refuseUnofferedParameters,
  registerOauthBearer,
  timeSmtpHooks,
} from '@hermod/smtp';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from './deps.js';
import { onAuth } from './hooks/on-auth.js';
import { onData } from './hooks/on-data.js';
import { onMailFrom } from './hooks/on-mail-from.js';
import { onRcptTo } from './hooks/on-rcpt-to.js';
import type { SessionUser } from './session-user.js';

export interface SubmissionServers {
  starttls: SMTPServer;
  implicitTls: SMTPServer;
}

/**
 * The two submission listeners (RFC 6409 on 587 with STARTTLS, RFC 8314 on 465 with implicit TLS),
 * sharing one set of hooks. AUTH is neither offered nor accepted before TLS.
 */
export function createSubmissionServers(
  deps: MsaDeps,
  tls: { key: Buffer; cert: Buffer; SNICallback?: ServerTls['SNICallback'] },
): SubmissionServers {
  // SSO (RFC 7628 OAUTHBEARER, XOAUTH2) only when an OIDC issuer is configured; like PLAIN, only after TLS.
  const bearer = deps.login.acceptsTokens;
  if (bearer) registerOauthBearer((base64) => decodeBearerResponse('OAUTHBEARER', base64));
  const common: SMTPServerOptions = {
    name: deps.config.MSA_HOSTNAME,
    banner: 'Hermod submission',
    key: tls.key,
    cert: tls.cert,
    // Per-host certificates (TLS_SNI_DIR) by the client's server name; the default pair otherwise.
    ...(tls.SNICallback ? { SNICallback: tls.SNICallback } : {}),
    size: deps.config.MSA_MAX_MESSAGE_BYTES,
    authMethods: bearer ? ['PLAIN', 'LOGIN', 'OAUTHBEARER', 'XOAUTH2'] : ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    // Trusted networks may send without AUTH; everyone else is refused at MAIL FROM with 530.
    authOptional: true,
    // RFC 2034: advertised, and on every reply; our hooks choose theirs (see enhanced-status-codes.ts).
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    // RFC 8689: smtp-server lists REQUIRETLS only once TLS is up and refuses the parameter before it.
    hideREQUIRETLS: false,
    disableReverseLookup: true,
    maxClients: deps.config.MSA_MAX_CLIENTS,
    maxCommandLength: deps.config.MSA_MAX_LINE_LENGTH,
    socketTimeout: deps.config.MSA_SOCKET_TIMEOUT_MS,
    closeTimeout: 30_000,
    logger: false,
    onAuth: onAuth(deps),
    onClose: (session) => {
      const user = session.user as SessionUser | undefined;
      if (user) deps.limits.closeSession(user.accountId);
    },
    ...timeSmtpHooks(
      { onMailFrom: onMailFrom(deps), onRcptTo: onRcptTo(deps), onData: onData(deps) },
      deps.metrics.phases,
    ),
  };
  // A MAIL/RCPT parameter of an extension not offered gets 555 before the hooks run.
  const starttls = new SMTPServer(refuseUnofferedParameters({ ...common, secure: false }, deps.refused));
  const implicitTls = new SMTPServer(refuseUnofferedParameters({ ...common, secure: true }, deps.refused));
  for (const server of [starttls, implicitTls]) {
    limitSessionErrors(server, deps.config.MSA_MAX_ERRORS);
    server.on('error', (error) => deps.logger.warn({ err: error }, 'smtp connection error'));
    server.on('hermod:refused', (r: LibraryRefusal) =>
      deps.refused(r.session, libraryRefusalReason(r.context, r.code), { code: r.code, text: r.text }),
    );
  }
  return { starttls, implicitTls };
}
