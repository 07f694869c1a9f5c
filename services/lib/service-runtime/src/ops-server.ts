import { createServer, type Server } from 'node:http';
import type { Logger } from '@hermod/logging';
import type { Registry } from 'prom-client';

/** A named readiness condition; the service is ready only while every check passes. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean> | boolean;
}

export interface OpsServer {
  readonly port: number;
  /** Marks the process as draining: /readyz turns 503 so load balancers stop sending traffic. */
  setDraining(): void;
  close(): Promise<void>;
}

/**
 * The operations endpoint every service exposes: /healthz (the process is alive), /readyz (its
 * dependencies answer and it is not draining), /metrics (Prometheus).
 */
export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  checks: ReadinessCheck[];
  logger: Logger;
}): Promise<OpsServer> {
  let draining = false;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const results = await Promise.all(
          options.checks.map(async (c) => {
            try {
              return [c.name, await c.check()] as const;
            } catch {
              return [c.name, false] as const;
            }
          }),
        );
        const failing = results.filter(([, ok]) => !ok).map(([name]) => name);
        if (draining) failing.push('draining');
        res
          .writeHead(failing.length === 0 ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ready: failing.length === 0, failing }) + '\n');
      } else if (path === '/metrics') {
        res
          .writeHead(200, { 'content-type': options.registry.contentType })
          .end(await options.registry.metrics());
      } else {
        res.writeHead(404).end();
      }
    })().catch((error: unknown) => {
      options.logger.error({ err: error }, 'ops endpoint failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const port = await listenHttp(server, options.host, options.port);
  return {
    port,
    setDraining: () => {
      draining = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts an HTTP server listening; resolves to the bound port (the given one, or the chosen one for 0). */
export async function listenHttp(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
