import { type ConnectionInternals, saslMechanisms } from './smtp-server-internals.js';

type Done = () => void;

/** The client's OAUTHBEARER response (base64, RFC 7628) decoded, or undefined when malformed. */
export type DecodeBearer = (base64: string) => { user?: string | undefined; token: string } | undefined;

// smtp-server implements XOAUTH2 but not OAUTHBEARER (RFC 7628). Its AUTH command looks mechanisms
// up in its SASL table by name, so OAUTHBEARER is added beside XOAUTH2, with the same flow: onAuth is
// called with method 'OAUTHBEARER'; an answer without a user sends its data as the 334 error
// challenge, the client's dummy response is read, then 535. The private members it uses are named
// in smtp-server-internals.ts.

function token(
  this: ConnectionInternals,
  decode: DecodeBearer,
  canAbort: boolean,
  raw: Buffer | string,
  done: Done,
): void {
  const text = raw.toString().trim();
  if (canAbort && text === '*') {
    this.send(501, 'Authentication aborted');
    done();
    return;
  }
  const credentials = decode(text);
  if (!credentials) {
    this.send(501, 'Error: invalid OAUTHBEARER response');
    done();
    return;
  }
  this._server.onAuth(
    { method: 'OAUTHBEARER', username: credentials.user ?? '', accessToken: credentials.token },
    this.session,
    (error, response) => {
      if (error) {
        this.send(error.responseCode ?? 535, error.message);
        done();
        return;
      }
      if (!response?.user) {
        this._nextHandler = (_data, next) => {
          this.send(535, 'Error: Authentication credentials invalid');
          next();
        };
        this.send(334, Buffer.from(JSON.stringify(response?.data ?? {})).toString('base64'));
        done();
        return;
      }
      this.session.user = response.user;
      this.session.transmissionType = this._transmissionType();
      this.send(235, 'Authentication successful');
      done();
    },
  );
}

/** Adds SASL OAUTHBEARER to smtp-server's mechanisms (idempotent); enable it with authMethods. */
export function registerOauthBearer(decode: DecodeBearer): void {
  saslMechanisms.SASL_OAUTHBEARER = function (this: ConnectionInternals, args: string[], done: Done): void {
    if (args.length > 1) {
      this.send(501, 'Error: syntax: AUTH OAUTHBEARER token');
      done();
      return;
    }
    if (!args.length) {
      this._nextHandler = (data, next) => token.call(this, decode, true, data, next);
      this.send(334);
      done();
      return;
    }
    token.call(this, decode, false, args[0] ?? '', done);
  };
}
