import type { TLSSocket } from 'node:tls';
import type { NodemailerError } from 'nodemailer/lib/errors';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SessionOptions {
  host: string;
  /** The address to connect to (already resolved). */
  address: string;
  port: number;
  heloName: string;
  /** Refuse to send without STARTTLS (TLS-required domain, MTA-STS enforce). */
  requireTls: boolean;
  /** Check the certificate against `host` (MTA-STS, TLS required); opportunistic TLS takes any certificate. */
  verifyTls: boolean;
  ca?: Buffer | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** A failure of the connection or the session as a whole (not of one recipient). */
export class SessionError extends Error {
  constructor(
    readonly code: string,
    /** The remote reply when there was one ("421 4.3.2 shutting down"). */
    readonly reply: string | undefined,
    readonly replyCode: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

export interface SendResult {
  accepted: string[];
  rejected: Array<{ recipient: string; code: number; reply: string }>;
  /** The reply to the final dot. */
  reply: string;
}

const oneLine = (s: string | undefined): string => (s ?? '').replace(/\s*\r?\n\s*/g, ' ').trim();

/** TLS failures nodemailer reports as socket errors (certificate checks, handshake) keep their own code. */
const tlsFailure = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_(GET|VERIFY)_)/;

function toSessionError(error: NodemailerError): SessionError {
  const original = (error as { originalCode?: string }).originalCode;
  return new SessionError(
    original && tlsFailure.test(original) ? 'ETLS' : (error.code ?? 'ESOCKET'),
    error.response ? oneLine(error.response) : undefined,
    error.responseCode,
    oneLine(error.response) || error.message,
  );
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

  static open(options: SessionOptions): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      host: options.address,
      port: options.port,
      name: options.heloName,
      servername: options.host,
      secure: false,
      requireTLS: options.requireTls,
      opportunisticTLS: !options.requireTls,
      tls: {
        rejectUnauthorized: options.verifyTls,
        servername: options.host,
        minVersion: 'TLSv1.2',
        ...(options.ca ? { ca: options.ca } : {}),
      },
      connectionTimeout: options.connectTimeoutMs,
      greetingTimeout: options.connectTimeoutMs,
      socketTimeout: options.commandTimeoutMs,
      allowInternalNetworkInterfaces: true,
      logger: false,
      debug: false,
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      connection.once('error', (error: NodemailerError) => {
        if (settled) return;
        settled = true;
        connection.close();
        reject(toSessionError(error));
      });
      connection.connect((error) => {
        if (settled) return;
        settled = true;
        if (error) {
          connection.close();
          reject(toSessionError(error));
          return;
        }
        // From now on errors surface through send(); a late 'error' event must not crash the process.
        connection.on('error', () => {});
        resolve(new SmtpSession(connection, options));
      });
    });
  }

  private get extensions(): string[] {
    return (connection(this.connection)._supportedExtensions ?? []).map((e) => e.toUpperCase());
  }

  supports(extension: 'SMTPUTF8' | '8BITMIME' | 'PIPELINING' | 'SIZE'): boolean {
    return this.extensions.includes(extension);
  }

  /** The largest message the server declared (SIZE), 0 when none. */
  get maxSize(): number {
    return connection(this.connection)._maxAllowedSize ?? 0;
  }

  /** "TLSv1.3 verified", "TLSv1.3" (unverified, opportunistic) or "none". */
  get tlsOutcome(): string {
    if (!this.connection.secure) return 'none';
    const socket = this.connection._socket as TLSSocket | false | null;
    const protocol = socket && typeof socket.getProtocol === 'function' ? socket.getProtocol() : 'TLS';
    return this.options.verifyTls ? `${protocol} verified` : `${protocol}`;
  }

  get usable(): boolean {
    return !this.connection.destroyed;
  }

  /** Sends one message; per-recipient results, or a SessionError that applies to every recipient. */
  send(from: string, recipients: string[], message: Buffer, eightBit: boolean): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      this.connection.send(
        { from: from === '' ? false : from, to: recipients, size: message.length, use8BitMime: eightBit },
        message,
        (error, info) => {
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
            reject(toSessionError(error));
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
      this.connection.reset((error) => (error ? reject(toSessionError(error)) : resolve())),
    );
  }

  close(): void {
    if (this.connection.destroyed) return;
    this.connection.quit();
    setTimeout(() => this.connection.close(), 1_000).unref();
  }
}

// nodemailer keeps the EHLO results on private fields.
const connection = (c: SMTPConnection) =>
  c as unknown as { _supportedExtensions?: string[]; _maxAllowedSize?: number };
