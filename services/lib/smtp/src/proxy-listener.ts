import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@hermod/logging';
import { acceptProxied, type TrustedProxies } from '@hermod/service-runtime';
import type { SMTPServer } from 'smtp-server';

/**
 * A listener for connections that arrive through a load balancer speaking the PROXY protocol (v1
 * or v2, read by the shared acceptProxied): the SMTP session is started with the client address
 * the header carries, so SPF, DNSBL, rate limits, login throttles and Received see the real client.
 * Used by mx and msa (for implicit TLS, `wrap` performs the handshake after the header).
 */
export function createProxyListener(
  smtp: SMTPServer,
  options: {
    trusted: TrustedProxies;
    logger: Logger;
    headerTimeoutMs?: number;
    /** Implicit TLS: turns the plain socket into the session's socket (after the PROXY header). */
    wrap?: (socket: Socket, start: (session: Socket) => void) => void;
  },
): Server {
  return createServer((socket: Socket) => {
    acceptProxied(socket, options, (client, { source }) => {
      const start = (session: Socket) =>
        smtp.connect(session, {
          id: randomSessionId(),
          ...(source ? { remoteAddress: source.address, remotePort: source.port } : {}),
        });
      if (options.wrap) options.wrap(client, start);
      else start(client);
    });
  });
}

function randomSessionId(): string {
  return `p${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
