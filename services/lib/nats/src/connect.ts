import type { Logger } from '@hermod/logging';
import { connect, Events, type NatsConnection } from 'nats';

export interface NatsOptions {
  servers: string | string[];
  name: string;
  logger?: Logger;
  /** The server does not deliver this connection's own publications to its own subscriptions. */
  noEcho?: boolean;
}

/** Connects and keeps reconnecting for ever: a service outlives nats-server restarts. */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // Every JetStream publish is a request; capturing a stack trace for each one (to decorate a
    // rare timeout error) was a visible share of a busy service's CPU.
    noAsyncTraces: true,
    ...(options.noEcho ? { noEcho: true } : {}),
  });
  if (options.logger) {
    const logger = options.logger;
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'pingTimer') continue;
        logger.info({ nats: status.type, data: String(status.data) }, 'nats status');
      }
    })();
  }
  return nc;
}

/**
 * Whether the connection has a server now, from the client's public status events: false from a
 * disconnect until the next reconnect, and once closed. nats.js has no public flag for this (its
 * protocol handler's `connected` field is private), so it is followed here from `nc.status()`.
 */
export function watchConnected(nc: NatsConnection): () => boolean {
  let connected = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) connected = false;
      else if (status.type === Events.Reconnect) connected = true;
    }
  })();
  return () => connected && !nc.isClosed();
}

/**
 * Calls listener each time the connection is back after a disconnect (nats.js's public Reconnect
 * status event), so work held back while it was away can go out at once.
 */
export function onReconnect(nc: NatsConnection, listener: () => void): void {
  void (async () => {
    for await (const status of nc.status()) if (status.type === Events.Reconnect) listener();
  })();
}
