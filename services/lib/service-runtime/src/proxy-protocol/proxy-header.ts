import { isIP } from 'node:net';

export class ProxyHeaderError extends Error {
  readonly code = 'PROXY_HEADER';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyHeaderError';
  }
}

export interface ProxyHeader {
  /** undefined for v2 LOCAL / v1 UNKNOWN: the connection is the proxy's own (health checks). */
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
  /** Bytes taken by the header; what follows is the client's SMTP stream. */
  length: number;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;

/**
 * Parses a PROXY protocol header (HAProxy spec, v1 text or v2 binary) from the start of buf.
 * Returns undefined while more bytes are needed; throws when the bytes cannot be a valid header.
 */
export function parseProxyHeader(buf: Buffer): ProxyHeader | undefined {
  const probe = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, probe).equals(V2_SIGNATURE.subarray(0, probe))) {
    return buf.length < 16 ? undefined : parseV2(buf);
  }
  const prefix = Buffer.from('PROXY ');
  const p = Math.min(buf.length, prefix.length);
  if (!buf.subarray(0, p).equals(prefix.subarray(0, p)))
    throw new ProxyHeaderError('not a PROXY protocol header');
  const end = buf.indexOf('\r\n');
  if (end === -1) {
    if (buf.length >= V1_MAX) throw new ProxyHeaderError('PROXY v1 header too long');
    return undefined;
  }
  if (end + 2 > V1_MAX) throw new ProxyHeaderError('PROXY v1 header too long');
  return parseV1(buf.subarray(0, end).toString('latin1'), end + 2);
}

function parseV1(line: string, length: number): ProxyHeader {
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { length };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6'))
    throw new ProxyHeaderError('malformed PROXY v1 header');
  const [, family, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const want = family === 'TCP4' ? 4 : 6;
  if (isIP(src) !== want || isIP(dst) !== want) throw new ProxyHeaderError('bad address in PROXY v1 header');
  const port = (s: string) => {
    if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new ProxyHeaderError('bad port in PROXY v1 header');
    return Number(s);
  };
  return {
    source: { address: src, port: port(sport) },
    destination: { address: dst, port: port(dport) },
    length,
  };
}

function parseV2(buf: Buffer): ProxyHeader | undefined {
  const versionCommand = buf[12] as number;
  const family = buf[13] as number;
  const bodyLength = buf.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError('unsupported PROXY protocol version');
  if (bodyLength > 4096) throw new ProxyHeaderError('PROXY v2 header too long');
  const length = 16 + bodyLength;
  if (buf.length < length) return undefined;
  const command = versionCommand & 0x0f;
  if (command === 0x0) return { length }; // LOCAL
  if (command !== 0x1) throw new ProxyHeaderError('unsupported PROXY v2 command');
  const body = buf.subarray(16, length);
  switch (family) {
    case 0x11: // TCP over IPv4
    case 0x12: // UDP over IPv4
      if (body.length < 12) throw new ProxyHeaderError('short PROXY v2 IPv4 block');
      return {
        source: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) },
        destination: { address: [...body.subarray(4, 8)].join('.'), port: body.readUInt16BE(10) },
        length,
      };
    case 0x21: // TCP over IPv6
    case 0x22:
      if (body.length < 36) throw new ProxyHeaderError('short PROXY v2 IPv6 block');
      return {
        source: { address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) },
        destination: { address: ipv6(body.subarray(16, 32)), port: body.readUInt16BE(34) },
        length,
      };
    case 0x00:
      return { length };
    default:
      throw new ProxyHeaderError('unsupported PROXY v2 address family');
  }
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups, as the canonical text form does.
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start === -1) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.len).join(':')}`;
}
