import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which session a change comes from: the session runs each command inside `asSession`, and the
 * change hub stamps the events published meanwhile with it, so NOTIFY can leave a session's own
 * changes out of its notifications (RFC 5465 section 5), also when they come back from NATS.
 */
const current = new AsyncLocalStorage<string>();

export function asSession<T>(sessionId: string, fn: () => T): T {
  return current.run(sessionId, fn);
}

export function currentSession(): string | undefined {
  return current.getStore();
}
