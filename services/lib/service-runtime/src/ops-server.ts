import { createServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Logger } from '@hermod/logging';
import type { Registry } from 'prom-client';

/** true when ready; otherwise false or, better, the reason (a check that throws gives its message). */
export type Readiness = boolean | string;

/**
 * A named readiness condition; the service is ready only while every check passes. A check with
 * `degradesOnly` names something the service can serve without for a while (msa and mx accept
 * into the spool while nats-server is away): its failure is reported under `degraded` in /readyz
 * and the service stays ready, so a load balancer keeps sending it clients.
 */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<Readiness> | Readiness;
  degradesOnly?: boolean;
}

/** A check that has not answered within this time fails (a frozen dependency never answers). */
const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(c: ReadinessCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(c.check), timeout]);
    if (result === true) return undefined;
    return result === false ? 'not ready' : result;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    clearTimeout(timer);
  }
}

export interface OpsServer {
  readonly port: number;
  /** Marks the process as draining: /readyz turns 503 so load balancers stop sending traffic. */
  setDraining(): void;
  close(): Promise<void>;
}

/**
 * The operations endpoint every service exposes: /healthz (the process is alive, also while it
 * waits for its dependencies), /readyz (its dependencies answer and it is not draining; 503 names
 * each failing check with its reason: `{ ready, failing: [name], reasons: { name: reason } }`, and
 * failing `degradesOnly` checks under `degraded` without turning 503),
 * /metrics (Prometheus).
 */
export async function startOpsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  checks: ReadinessCheck[];
  logger: Logger;
}): Promise<OpsServer> {
  let draining = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const results = await Promise.all(options.checks.map(async (c) => [c, await runCheck(c)] as const));
        const reasons: Record<string, string> = {};
        const degraded: Record<string, string> = {};
        for (const [c, reason] of results)
          if (reason !== undefined) (c.degradesOnly ? degraded : reasons)[c.name] = reason;
        if (draining) reasons.draining = 'shutting down';
        const failing = Object.keys(reasons);
        res.writeHead(failing.length === 0 ? 200 : 503, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            ready: failing.length === 0,
            failing,
            reasons,
            ...(Object.keys(degraded).length > 0 ? { degraded } : {}),
          }) + '\n',
        );
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
  const port = await listenOn(server, options.host, options.port);
  return {
    port,
    setDraining: () => {
      draining = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Starts a server listening (HTTP, SMTP, IMAP: any net.Server); resolves to the bound port (the
 * given one, or the chosen one for 0), rejects when the port cannot be bound.
 */
export async function listenOn(server: NetServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
