import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { NodemailerError } from 'nodemailer/lib/errors';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { type TlsaRecord, verifyDane } from '../tls/dane.js';
import {
  addSmtpUtf8ToMailFrom,
  ehloCapabilities,
  setSocketIdleTimeout,
  tlsSocketOf,
  tlsUpgradeFailed,
} from './ehlo-capabilities.js';
import {
  type DeliveryFailure,
  LocalError,
  NetworkError,
  ProtocolError,
  ReplyError,
  TlsError,
  type TlsFailureType,
} from './errors.js';

export interface SessionOptions {
  host: string;
  /** The address to connect to (already resolved). */
  address: string;
  port: number;
  heloName: string;
  /** Refuse to send without STARTTLS (TLS-required domain, MTA-STS enforce). */
  requireTls: boolean;
  /**
   * Do not use STARTTLS even when offered: the plaintext retry after a failed opportunistic
   * handshake (RFC 7435), only where no policy requires TLS (never together with requireTls).
   */
  plaintext?: boolean | undefined;
  /** Check the certificate against `host` (MTA-STS, TLS required); opportunistic TLS takes any certificate. */
  verifyTls: boolean;
  ca?: Buffer | undefined;
  /**
   * DANE (RFC 7672) for this host: TLS is mandatory; with records the certificate chain must
   * match one of them ('unusable': a validated TLSA RRset without a usable record, any certificate).
   */
  dane?: { records: TlsaRecord[]; tlsaName: string } | 'unusable' | undefined;
  /** The TCP connect. */
  connectTimeoutMs: number;
  /**
   * Each command's reply (MAIL, RCPT, DATA's 354) and each block of the message being taken
   * (the socket idle); RFC 5321 4.5.3.2: at least 5, 5, 2 and 3 minutes.
   */
  commandTimeoutMs: number;
  /** The 220 greeting, EHLO and a STARTTLS upgrade after the connect (RFC 5321 4.5.3.2.1: at least 5 minutes). */
  greetingTimeoutMs?: number;
  /** The reply to the final dot of DATA (RFC 5321 4.5.3.2.6: at least 10 minutes). */
  finalDotTimeoutMs?: number;
}

/** RFC 5321 4.5.3.2's minimums, where a caller gives none. */
export const RFC5321_GREETING_TIMEOUT_MS = 5 * 60_000;
export const RFC5321_FINAL_DOT_TIMEOUT_MS = 10 * 60_000;

/** RFC 3461 parameters of one transaction (nodemailer sends them only to a server that advertises DSN). */
export interface DsnParameters {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  /** One NOTIFY for every recipient of the transaction. */
  notify?: string;
  /** One ORCPT ("rfc822;user@example.org") for every recipient of the transaction. */
  orcpt?: string;
}

/** How one message goes out, beyond its envelope addresses. */
export interface SendOptions {
  /** BODY=8BITMIME (the caller checked the remote offers it). */
  eightBit: boolean;
  /** RFC 8689 REQUIRETLS on MAIL FROM (checked by requireTlsRefusal before we get here). */
  requireTls?: boolean;
  /**
   * RFC 6531 SMTPUTF8 on MAIL FROM, for UTF-8 header fields too (nodemailer adds it by itself only
   * for a UTF-8 address); the caller checked the remote offers it.
   */
  smtpUtf8?: boolean;
  dsn?: DsnParameters;
}

export interface SendResult {
  accepted: string[];
  rejected: Array<{ recipient: string; code: number; reply: string }>;
  /** The reply to the final dot. */
  reply: string;
}

const oneLine = (s: string | undefined): string => (s ?? '').replace(/\s*\r?\n\s*/g, ' ').trim();

/**
 * Node's codes for certificate and handshake failures, which nodemailer reports as socket errors
 * (keeping the original in `originalCode`): ERR_TLS_*, ERR_SSL_*, and OpenSSL's verify codes.
 */
const isTlsCode = (code: string): boolean =>
  [
    'ERR_TLS_',
    'ERR_SSL_',
    'CERT_',
    'DEPTH_ZERO_',
    'SELF_SIGNED_',
    'UNABLE_TO_GET_',
    'UNABLE_TO_VERIFY_',
  ].some((prefix) => code.startsWith(prefix));

/** The RFC 8460 result type of a TLS failure nodemailer reported. */
function tlsFailureType(error: NodemailerError): TlsFailureType {
  const code = error.originalCode ?? '';
  if (error.code === 'ETLS' && /STARTTLS/i.test(error.message)) return 'starttls-not-supported';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate-host-mismatch';
  if (/^(DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_)/.test(code))
    return 'certificate-not-trusted';
  return 'validation-failure';
}

/** nodemailer's error codes (its documented `code` values) that mean the transport failed. */
const networkCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROXY']);

/**
 * The failure kind of a nodemailer error, by its `code`, `originalCode` and `responseCode`: TLS
 * first (a refused STARTTLS carries a reply too), then any remote reply, then the transport;
 * what is left (EENVELOPE, EMESSAGE, ESTREAM... without a reply) is nodemailer refusing our own
 * call, a LocalError.
 */
export function nodemailerFailure(error: NodemailerError): DeliveryFailure {
  const reply = oneLine(error.response);
  const cause = { cause: error };
  if (error.code === 'ETLS' || (error.originalCode !== undefined && isTlsCode(error.originalCode)))
    return new TlsError(oneLine(error.message), { ...cause, resultType: tlsFailureType(error) });
  if (error.responseCode && reply) return new ReplyError(error.responseCode, reply, cause);
  // A socket error nodemailer did not wrap still names its system call.
  if ((error.code && networkCodes.has(error.code)) || error.syscall !== undefined)
    return new NetworkError(error.message, cause);
  if (error.code === 'EPROTOCOL') return new ProtocolError(error.message, cause);
  return new LocalError(`nodemailer refused the call (${error.code ?? 'no code'}): ${error.message}`, cause);
}

/**
 * One SMTP client session to one remote address over nodemailer's SMTP connection: EHLO with our
 * name, STARTTLS whenever offered (nodemailer discards any plaintext buffered after the 220),
 * SIZE/8BITMIME/SMTPUTF8 from the EHLO reply; several messages in turn. With PIPELINING offered
 * nodemailer writes MAIL, every RCPT and DATA at once and reads the replies in order.
 */
export class SmtpSession {
  private constructor(
    private readonly connection: SMTPConnection,
    readonly options: SessionOptions,
  ) {}

  static open(given: SessionOptions): Promise<SmtpSession> {
    // DANE makes TLS mandatory and replaces the PKIX check (RFC 7672 sections 2.2 and 3.1).
    const options = given.dane ? { ...given, requireTls: true, verifyTls: false } : given;
    const greetingTimeoutMs = options.greetingTimeoutMs ?? RFC5321_GREETING_TIMEOUT_MS;
    const connection = new SMTPConnection({
      host: options.address,
      port: options.port,
      name: options.heloName,
      servername: options.host,
      secure: false,
      requireTLS: options.requireTls,
      opportunisticTLS: !options.requireTls && !options.plaintext,
      ignoreTLS: !options.requireTls && options.plaintext === true,
      tls: {
        rejectUnauthorized: options.verifyTls,
        servername: options.host,
        minVersion: 'TLSv1.2',
        ...(options.ca ? { ca: options.ca } : {}),
      },
      // nodemailer's connectionTimeout covers the connect and the greeting together; the connect
      // alone is bounded below, so a dead host is given up on after connectTimeoutMs.
      connectionTimeout: options.connectTimeoutMs + greetingTimeoutMs,
      greetingTimeout: greetingTimeoutMs,
      // The socket's idle limit covers the greeting too; commands' once the session is open.
      socketTimeout: Math.max(options.commandTimeoutMs, greetingTimeoutMs),
      allowInternalNetworkInterfaces: true,
      logger: false,
      debug: false,
    });
    const holder: { session?: SmtpSession } = {};
    addSmtpUtf8ToMailFrom(connection, () => holder.session?.smtpUtf8 === true);
    return new Promise((resolve, reject) => {
      let settled = false;
      // Still not connected (nodemailer's public stage) after connectTimeoutMs: a dead host.
      const connectTimer = setTimeout(() => {
        if (settled || connection.stage !== 'init') return;
        settled = true;
        connection.close();
        reject(
          new NetworkError(`Connection timeout: no TCP connection within ${options.connectTimeoutMs} ms`),
        );
      }, options.connectTimeoutMs);
      connection.once('error', (error: NodemailerError) => {
        clearTimeout(connectTimer);
        if (settled) return;
        settled = true;
        connection.close();
        reject(openFailure(error, options, connection));
      });
      connection.connect((error) => {
        clearTimeout(connectTimer);
        if (settled) return;
        settled = true;
        if (error) {
          connection.close();
          reject(openFailure(error, options, connection));
          return;
        }
        // From now on errors surface through send(); a late 'error' event must not crash the process.
        connection.on('error', () => {});
        try {
          setSocketIdleTimeout(connection, options.commandTimeoutMs);
        } catch (local) {
          connection.close();
          reject(local);
          return;
        }
        const session = new SmtpSession(connection, options);
        holder.session = session;
        const daneFailure = session.checkDane();
        if (daneFailure) {
          connection.close();
          reject(daneFailure);
          return;
        }
        resolve(session);
      });
    });
  }

  supports(extension: 'SMTPUTF8' | '8BITMIME' | 'PIPELINING' | 'SIZE' | 'REQUIRETLS' | 'DSN'): boolean {
    return ehloCapabilities(this.connection).extensions.includes(extension);
  }

  /** The largest message the server declared (SIZE), 0 when none. */
  get maxSize(): number {
    return ehloCapabilities(this.connection).maxSize;
  }

  /** nodemailer's socket once TLS is up (read in ehlo-capabilities.ts, with nodemailer's other internals). */
  private get tlsSocket(): TLSSocket | undefined {
    return tlsSocketOf(this.connection);
  }

  /** The certificates the server sent, leaf first. */
  private peerChain(): X509Certificate[] {
    const chain: X509Certificate[] = [];
    let cert: DetailedPeerCertificate | undefined = this.tlsSocket?.getPeerCertificate(true);
    while (cert?.raw && chain.length < 10) {
      chain.push(new X509Certificate(cert.raw));
      if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
      cert = cert.issuerCertificate;
    }
    return chain;
  }

  /** RFC 7672 after STARTTLS: the certificate against the TLSA records; a TlsError when it fails. */
  private checkDane(): TlsError | undefined {
    const dane = this.options.dane;
    if (!dane) return undefined;
    if (!this.tlsSocket)
      return new TlsError('DANE: TLS is required and was not negotiated', {
        policy: 'dane',
        resultType: 'starttls-not-supported',
      });
    if (dane === 'unusable') return undefined;
    const result = verifyDane(this.peerChain(), dane.records, this.options.host);
    if (result.ok) {
      this.daneVerified = true;
      return undefined;
    }
    return new TlsError(`DANE (${dane.tlsaName}): ${result.reason}`, {
      policy: 'dane',
      resultType: result.type,
    });
  }

  private daneVerified = false;
  /** The message being sent needs SMTPUTF8 on its MAIL FROM (see SendOptions). */
  private smtpUtf8 = false;

  /** "TLSv1.3 verified", "TLSv1.3 dane-verified", "TLSv1.3" (unverified, opportunistic) or "none". */
  get tlsOutcome(): string {
    if (!this.connection.secure) return 'none';
    const protocol = this.tlsSocket?.getProtocol() ?? 'TLS';
    if (this.daneVerified) return `${protocol} dane-verified`;
    return this.options.verifyTls ? `${protocol} verified` : `${protocol}`;
  }

  /** TLS is up and the certificate was verified against the host (MTA-STS enforce or DANE). */
  get verifiedTls(): boolean {
    return this.connection.secure && (this.options.verifyTls || this.daneVerified);
  }

  get usable(): boolean {
    return !this.connection.destroyed;
  }

  /** Sends one message; per-recipient results, or a DeliveryFailure that applies to every recipient. */
  send(from: string, recipients: string[], message: Buffer, options: SendOptions): Promise<SendResult> {
    const { eightBit, requireTls = false, smtpUtf8 = false, dsn = {} } = options;
    this.smtpUtf8 = smtpUtf8;
    // Once nodemailer has taken the whole message (the final dot follows it), the wait is for the
    // reply to the final dot; after it, commands' again.
    const body = Readable.from([message]);
    body.once('end', () =>
      setSocketIdleTimeout(this.connection, this.options.finalDotTimeoutMs ?? RFC5321_FINAL_DOT_TIMEOUT_MS),
    );
    return new Promise<SendResult>((resolve, reject) => {
      this.connection.send(
        {
          from: from === '' ? false : from,
          to: recipients,
          size: message.length,
          use8BitMime: eightBit,
          ...(requireTls ? { requireTLSExtensionEnabled: true } : {}),
          ...(Object.keys(dsn).length > 0 ? { dsn } : {}),
        },
        body,
        (error, info) => {
          if (!this.connection.destroyed)
            setSocketIdleTimeout(this.connection, this.options.commandTimeoutMs);
          if (error) {
            if (error.code === 'EENVELOPE' && error.rejectedErrors && error.command === 'RCPT TO') {
              // every recipient refused: still a per-recipient result
              resolve({
                accepted: [],
                rejected: error.rejectedErrors.map((e) => ({
                  recipient: e.recipient ?? '',
                  code: e.responseCode ?? 451,
                  reply: oneLine(e.response) || e.message,
                })),
                reply: oneLine(error.response),
              });
              return;
            }
            reject(nodemailerFailure(error));
            return;
          }
          resolve({
            accepted: info?.accepted ?? [],
            rejected: (info?.rejectedErrors ?? []).map((e) => ({
              recipient: e.recipient ?? '',
              code: e.responseCode ?? 451,
              reply: oneLine(e.response) || e.message,
            })),
            reply: oneLine(info?.response),
          });
        },
      );
    });
  }

  /** RSET after a failed transaction so the next one starts clean. */
  reset(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.connection.reset((error) => (error ? reject(nodemailerFailure(error)) : resolve())),
    );
  }

  close(): void {
    if (this.connection.destroyed) return;
    this.connection.quit();
    setTimeout(() => this.connection.close(), 1_000).unref();
  }
}

/**
 * A session that could not be opened. A failure during the STARTTLS handshake is a TLS failure
 * whatever form it took (a peer hanging up mid-handshake is a socket error to nodemailer). Under a
 * TLS requirement an EHLO refusal is a TLS failure too: nodemailer cannot fall back to HELO, which
 * has no STARTTLS.
 */
function openFailure(
  error: NodemailerError,
  options: SessionOptions,
  connection: SMTPConnection,
): DeliveryFailure {
  let failure = nodemailerFailure(error);
  let upgradeFailed: boolean;
  try {
    upgradeFailed = tlsUpgradeFailed(connection);
  } catch (local) {
    return local as LocalError;
  }
  if (!(failure instanceof TlsError) && failure.code !== 'LOCAL' && upgradeFailed)
    failure = new TlsError(`STARTTLS handshake failed: ${oneLine(error.message)}`, {
      cause: error,
      resultType: 'validation-failure',
    });
  if (options.dane && failure instanceof TlsError)
    return new TlsError(`DANE: ${failure.message}`, {
      cause: error,
      policy: 'dane',
      ...(failure.resultType ? { resultType: failure.resultType } : {}),
    });
  return options.requireTls && failure instanceof ReplyError && error.command === 'EHLO'
    ? new TlsError(`EHLO refused, STARTTLS impossible: ${failure.reply}`, { cause: error })
    : failure;
}
