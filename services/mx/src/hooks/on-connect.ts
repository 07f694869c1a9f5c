import { smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';
import { checkDnsbl } from '../policy/dnsbl.js';

/**
 * A new client (its address from the socket, or from the PROXY header on a proxy listener): the
 * per-IP connection cap, then the DNSBL zones. Refusals are 421/554 greetings, then the close.
 */
export function onConnect(deps: MxDeps): NonNullable<SMTPServerOptions['onConnect']> {
  return (session, callback) => {
    const ip = session.remoteAddress;
    if (!deps.limits.connect(ip)) {
      deps.metrics.rejections.inc({ reason: 'connections-per-ip' });
      callback(smtpError(421, '4.7.0', 'Too many connections from your address, try again later'));
      return;
    }
    (session as { countedIp?: string }).countedIp = ip;
    if (deps.config.MX_DNSBL_ZONES.length === 0) {
      callback();
      return;
    }
    checkDnsbl(ip, deps.config.MX_DNSBL_ZONES, deps.resolve).then((listing) => {
      if (!listing) {
        callback();
        return;
      }
      deps.metrics.rejections.inc({ reason: 'dnsbl' });
      deps.logger.info(
        { sessionId: session.id, ip, zone: listing.zone, answer: listing.answer },
        'client listed in DNSBL',
      );
      callback(
        smtpError(554, '5.7.1', `Service unavailable; client host [${ip}] blocked using ${listing.zone}`),
      );
    }, callback);
  };
}

/** The connection is gone: give its slot back. */
export function onClose(deps: MxDeps): NonNullable<SMTPServerOptions['onClose']> {
  return (session) => {
    const ip = (session as { countedIp?: string }).countedIp;
    if (ip) deps.limits.disconnect(ip);
  };
}
