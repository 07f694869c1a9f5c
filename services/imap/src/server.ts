import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from '@hermod/logging';
import {
  acceptProxied,
  listenOn,
  OpenCounts,
  type ServerTls,
  type TrustedProxies,
} from '@hermod/service-runtime';

/** Connections per client IP and per account. */
export class ConnectionLimiter {
  private readonly perIp = new OpenCounts<string>();
  private readonly perUser = new OpenCounts<number>();

  constructor(
    private readonly maxPerIp: number,
    private readonly maxPerUser: number,
  ) {}

  acquireIp(ip: string): boolean {
    return this.perIp.tryOpen(ip, this.maxPerIp);
  }

  releaseIp(ip: string): void {
    this.perIp.close(ip);
  }

  acquire(accountId: number): boolean {
    return this.perUser.tryOpen(accountId, this.maxPerUser);
  }

  release(accountId: number): void {
    this.perUser.close(accountId);
  }
}

export interface ClosableSession {
  start(): void;
  /** Tells the client the server is going away and closes. */
  shutdown(): void;
}

export interface ListenerOptions {
  host: string;
  port: number;
  /** Implicit TLS (IMAPS/POP3S) when set; `serverTls` is read at each handshake (it changes on renewal). */
  tls?: { readonly serverTls: ServerTls };
  limiter: ConnectionLimiter;
  logger: Logger;
  /** Builds the protocol session for an accepted connection. */
  createSession(socket: Socket, secure: boolean, remoteAddress: string, release: () => void): ClosableSession;
  /** Greeting for connections over the per-IP cap (protocol specific). */
  refusal: string;
  /**
   * Behind a load balancer: every connection starts with a PROXY protocol header (before TLS),
   * from a trusted peer, and the client address it names is the session's (limits, throttles, logs).
   */
  proxy?: { trusted: TrustedProxies };
}

/** A TCP (or implicit TLS) listener that tracks its sessions for graceful shutdown. */
export class ProtocolListener {
  private server: Server | undefined;
  readonly sessions = new Set<ClosableSession>();
  port = 0;

  constructor(private readonly options: ListenerOptions) {}

  async listen(): Promise<number> {
    const { options } = this;
    const onConnection = (socket: Socket, secure: boolean, remoteAddress: string) => {
      socket.on('error', () => {});
      if (!options.limiter.acquireIp(remoteAddress)) {
        socket.end(options.refusal);
        return;
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        options.limiter.releaseIp(remoteAddress);
        this.sessions.delete(session);
      };
      const session = options.createSession(socket, secure, remoteAddress, release);
      this.sessions.add(session);
      socket.once('close', release);
      session.start();
      // A socket that came through acceptProxied was paused after its header.
      socket.resume();
    };
    const tls = options.tls;
    // Implicit TLS wraps the accepted socket the same way STARTTLS does, with the shared context.
    const accepted = (socket: Socket, remoteAddress: string) => {
      if (!tls) return onConnection(socket, false, remoteAddress);
      socket.on('error', () => {});
      const secure = new TLSSocket(socket, { isServer: true, ...tls.serverTls });
      secure.once('secure', () => onConnection(secure, true, remoteAddress));
      secure.on('error', (error) => {
        options.logger.debug({ err: error }, 'TLS handshake failed');
        socket.destroy();
      });
    };
    const proxy = options.proxy;
    const server = createServer((socket) => {
      if (!proxy) return accepted(socket, socket.remoteAddress ?? 'unknown');
      acceptProxied(socket, { trusted: proxy.trusted, logger: options.logger }, (client, { source }) =>
        accepted(client, source?.address ?? client.remoteAddress ?? 'unknown'),
      );
    });
    this.server = server;
    this.port = await listenOn(server, options.host, options.port);
    return this.port;
  }

  /** Stops accepting, then says goodbye to every open session. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.shutdown();
    await closed;
  }
}
