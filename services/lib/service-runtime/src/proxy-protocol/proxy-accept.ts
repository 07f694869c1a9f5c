import { BlockList, isIP, type Socket } from 'node:net';
import type { Logger } from '@hermod/logging';
import { type ProxyHeader, parseProxyHeader } from './proxy-header.js';

/** The longest PROXY header we wait for (v2 allows TLVs; real ones are far shorter). */
const MAX_HEADER_BYTES = 4200;

/** Which peers may send a PROXY header: CIDRs such as 10.0.0.0/8 or fd00::/8; none listed: any. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly any: boolean;

  constructor(readonly cidrs: readonly string[]) {
    this.any = cidrs.length === 0;
    for (const cidr of cidrs) {
      const [network = '', bits] = cidr.trim().split('/');
      const family = isIP(network);
      if (family === 0) throw new Error(`not a CIDR: ${cidr}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
        throw new Error(`not a CIDR: ${cidr}`);
      this.list.addSubnet(network, prefix, type);
    }
  }

  /** Whether a connection from this address may carry a PROXY header (IPv4-mapped IPv6 as IPv4). */
  trusts(address: string | undefined): boolean {
    if (this.any) return true;
    if (!address) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (mapped) return this.list.check(mapped, 'ipv4');
    return this.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}

export interface ProxiedClient {
  /** The client the header names; undefined for a LOCAL/UNKNOWN header (the proxy's own check). */
  source?: { address: string; port: number };
}

/**
 * Reads the PROXY protocol header (v1 or v2) off a socket just accepted on a PROXY listener, then
 * hands the socket - positioned at the client's first byte, paused - to onClient with the client
 * address the header carries. A connection from a peer outside `trusted` is refused before a
 * byte is read (it could name any address it likes), as is one whose header is malformed, too
 * long, or does not arrive within headerTimeoutMs.
 */
export function acceptProxied(
  socket: Socket,
  options: { trusted: TrustedProxies; logger: Logger; headerTimeoutMs?: number },
  onClient: (socket: Socket, client: ProxiedClient) => void,
): void {
  socket.on('error', () => socket.destroy());
  if (!options.trusted.trusts(socket.remoteAddress)) {
    options.logger.warn(
      { remoteAddress: socket.remoteAddress },
      'PROXY protocol connection from an untrusted source refused',
    );
    socket.destroy();
    return;
  }
  let buffered = Buffer.alloc(0);
  const timer = setTimeout(() => fail('no PROXY header in time'), options.headerTimeoutMs ?? 10_000);
  function fail(reason: string) {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    options.logger.info({ remoteAddress: socket.remoteAddress, reason }, 'PROXY header refused');
    socket.destroy();
  }
  function onData(chunk: Buffer) {
    buffered = Buffer.concat([buffered, chunk]);
    let header: ProxyHeader | undefined;
    try {
      header = parseProxyHeader(buffered);
    } catch (error) {
      fail((error as Error).message);
      return;
    }
    if (!header) {
      if (buffered.length > MAX_HEADER_BYTES) fail('PROXY header too long');
      return;
    }
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.pause();
    const rest = buffered.subarray(header.length);
    if (rest.length > 0) socket.unshift(rest);
    onClient(socket, header.source ? { source: header.source } : {});
  }
  socket.on('data', onData);
}
