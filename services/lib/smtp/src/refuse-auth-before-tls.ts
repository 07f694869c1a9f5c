import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

// smtp-server answers AUTH before TLS with 538 when allowInsecureAuth is off, but still lists AUTH in
// the EHLO reply. RFC 4954 §4 and RFC 8314 §3.3 say not to advertise it on a cleartext channel, and
// clients that see it may send credentials in clear. Hide it from EHLO until the channel is secure.
type Connection = {
  secure: boolean;
  _server: { options: { allowInsecureAuth?: boolean } };
  _listingEhloFeatures?: boolean;
  _isSupported(command: string): boolean;
  handler_EHLO(command: unknown, callback: () => void): unknown;
};

const prototype = SMTPConnection.prototype as unknown as Connection;
const patched = Symbol.for('hermod.refuseAuthBeforeTls');

if (!(prototype as unknown as Record<symbol, boolean>)[patched]) {
  (prototype as unknown as Record<symbol, boolean>)[patched] = true;
  const isSupported = prototype._isSupported;
  const ehlo = prototype.handler_EHLO;
  prototype._isSupported = function (this: Connection, command: string) {
    if (
      this._listingEhloFeatures &&
      !this.secure &&
      !this._server.options.allowInsecureAuth &&
      /^\s*auth\s*$/i.test(command)
    )
      return false;
    return isSupported.call(this, command);
  };
  prototype.handler_EHLO = function (this: Connection, command: unknown, callback: () => void) {
    this._listingEhloFeatures = true;
    try {
      return ehlo.call(this, command, callback);
    } finally {
      this._listingEhloFeatures = false;
    }
  };
}

export const authHiddenBeforeTls = true;
