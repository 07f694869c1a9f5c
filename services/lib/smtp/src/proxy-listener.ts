import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@hermod/logging';
import type { SMTPServer } from 'smtp-server';
import { parseProxyHeader } from './proxy-header.js';

/**
 * A listener for connections that arrive through a load balancer speaking the PROXY protocol (v1
 * or v2): the header is read and removed, and the SMTP session is started with the client address
 * it carries, so SPF, DNSBL, rate limits and Received see the real client.
 */
export function createProxyListener(smtp: SMTPServer, logger: Logger, headerTimeoutMs = 10_000): Server {
  return createServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), headerTimeoutMs);
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      logger.info({ remoteAddress: socket.remoteAddress, reason }, 'PROXY header refused');
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let header: ReturnType<typeof parseProxyHeader>;
      try {
        header = parseProxyHeader(buffered);
      } catch (error) {
        fail((error as Error).message);
        return;
      }
      if (!header) {
        if (buffered.length > 4200) fail('PROXY header too long');
        return;
      }
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.pause();
      const rest = buffered.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      smtp.connect(socket, {
        id: randomSessionId(),
        ...(header.source ? { remoteAddress: header.source.address, remotePort: header.source.port } : {}),
      });
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
}

function randomSessionId(): string {
  return `p${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
