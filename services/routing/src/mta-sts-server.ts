import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '@hermod/logging';
import { listenOn } from '@hermod/service-runtime';
import type { ClientConfigHandler } from './client-config/handler.js';

export const MTA_STS_PATH = '/.well-known/mta-sts.txt';

export interface MtaStsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The policy domain a request is for: the Host header must be `mta-sts.<domain>` (port ignored).
 * Returns undefined for any other host.
 */
export function policyDomainOfHost(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const host = hostHeader.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  return host.startsWith('mta-sts.') && host.length > 'mta-sts.'.length
    ? host.slice('mta-sts.'.length)
    : undefined;
}

/**
 * Serves our domains' MTA-STS policies over plain HTTP (TLS ends at the Ingress in front):
 * GET /.well-known/mta-sts.txt with Host `mta-sts.<domain>` answers the domain's policy as
 * text/plain, or 404 when the domain is unknown or publishes none. The same listener serves
 * client autoconfiguration (autoconfig.<domain>, autodiscover.<domain>) through clientConfig.
 */
export async function startMtaStsServer(options: {
  host: string;
  port: number;
  /** The policy file body for a domain, undefined when it has none. */
  policyFor: (domain: string) => string | undefined;
  /** Client autoconfiguration requests; it answers false for paths that are not its own. */
  clientConfig?: ClientConfigHandler;
  logger: Logger;
}): Promise<MtaStsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.clientConfig && (await options.clientConfig(req, res))) return;
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const domain = policyDomainOfHost(req.headers.host);
    const body = path === MTA_STS_PATH && domain ? options.policyFor(domain) : undefined;
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache',
      })
      .end(req.method === 'HEAD' ? undefined : body);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error({ err: error, path: req.url }, 'HTTP request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const port = await listenOn(server, options.host, options.port);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
