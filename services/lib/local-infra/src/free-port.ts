import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Below this, ports are left to well-known and registered services.
const FLOOR = 10_000;
// Ports this process handed out already: never the same one twice.
const handedOut = new Set<number>();

/**
 * The lowest port the kernel hands to outgoing connections. A port chosen in that range can be
 * taken by any client socket between the moment it is chosen and the moment a server binds it (seen
 * in CI: EADDRINUSE at start-up), so test servers take theirs below it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** Whether a server could bind this loopback port right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return (await bindable(port)) === port;
}

/**
 * A loopback TCP port that was free a moment ago: a random one between 10000 and the start of the
 * ephemeral range (outgoing connections do not take those), or one the kernel picks when that
 * range is too small.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low - FLOOR >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = FLOOR + Math.floor(Math.random() * (low - FLOOR));
      if (handedOut.has(port)) continue;
      handedOut.add(port); // before the check, so concurrent callers never pick it too
      if ((await bindable(port)) === port) return port;
    }
  }
  const port = await bindable(0);
  if (port === undefined) throw new Error('no free loopback port');
  handedOut.add(port);
  return port;
}
