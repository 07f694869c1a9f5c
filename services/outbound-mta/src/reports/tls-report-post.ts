import { request } from 'node:https';
import type { DnsResolver } from '../dns/resolve-destination.js';
import { resolverLookup } from '../tls/mta-sts.js';

/**
 * RFC 8460 section 5.4: the gzipped report POSTed to an https: rua as application/tlsrpt+gzip;
 * any 2xx is success. The host is resolved with our resolver; the certificate is checked (extra
 * CAs for tests); bounded in time; redirects are not followed.
 */
export function httpsReportPoster(options: {
  resolver: DnsResolver;
  ca?: Buffer | undefined;
  timeoutMs?: number;
}): (url: string, gzipped: Buffer) => Promise<void> {
  const lookup = resolverLookup(options.resolver);
  return (url, gzipped) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request(
        target,
        {
          method: 'POST',
          lookup,
          servername: target.hostname,
          ...(options.ca ? { ca: options.ca } : {}),
          timeout: options.timeoutMs ?? 30_000,
          headers: {
            'content-type': 'application/tlsrpt+gzip',
            'content-length': gzipped.length,
            'user-agent': 'hermod-outbound-mta',
          },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`TLS report POST to ${target.host}: HTTP ${status}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('TLS report POST timed out')));
      req.on('error', reject);
      req.end(gzipped);
    });
}
