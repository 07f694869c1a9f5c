import { type ConnectionInternals, connectionPrototype, patchOnce } from './smtp-server-internals.js';

// smtp-server answers AUTH before TLS with 538 when allowInsecureAuth is off, but still lists AUTH in
// the EHLO reply. RFC 4954 §4 and RFC 8314 §3.3 say not to advertise it on a cleartext channel, and
// clients that see it may send credentials in clear. Hide it from EHLO until the channel is secure.
// smtp-server has no option for it; the private members are named in smtp-server-internals.ts.

/** Connections whose EHLO reply is being built. */
const listingEhloFeatures = new WeakSet<object>();

patchOnce('refuseAuthBeforeTls', () => {
  const isSupported = connectionPrototype._isSupported;
  const ehlo = connectionPrototype.handler_EHLO;
  connectionPrototype._isSupported = function (this: ConnectionInternals, command: string) {
    if (
      listingEhloFeatures.has(this) &&
      !this.secure &&
      !this._server.options.allowInsecureAuth &&
      /^\s*auth\s*$/i.test(command)
    )
      return false;
    return isSupported.call(this, command);
  };
  connectionPrototype.handler_EHLO = function (
    this: ConnectionInternals,
    command: unknown,
    callback: () => void,
  ) {
    listingEhloFeatures.add(this);
    try {
      return ehlo.call(this, command, callback);
    } finally {
      listingEhloFeatures.delete(this);
    }
  };
});

export const authHiddenBeforeTls = true;
