import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';

/** One DNS answer with the validating resolver's verdict on it. */
export interface SecureAnswer {
  rcode: string;
  /** The AD bit: the resolver validated the answer (or the denial) with DNSSEC (RFC 4035 section 3.2.3). */
  authenticated: boolean;
  answers: dnsPacket.Answer[];
}

/**
 * A DNS query whose answer says whether it was DNSSEC-validated: injected so that tests can point
 * it at a validating resolver on loopback (or fake it).
 */
export type SecureDnsQuery = (name: string, type: dnsPacket.RecordType) => Promise<SecureAnswer>;

/** The resolver could not be asked or did not answer (time-out, socket error, malformed reply). */
export class DnsQueryError extends Error {
  override readonly name = 'DnsQueryError';
}

const EDNS_PAYLOAD = 1232;

/**
 * Queries a validating resolver (RFC 6698 and RFC 7672 rely on the resolver's AD bit, so it must be
 * trusted and reached over a trusted path: loopback or the pod's node). Recursion desired, AD set in
 * the query and EDNS0 with DO (RFC 6840 section 5.7, RFC 3225); UDP first, TCP when truncated.
 */
export function validatingResolverQuery(options: {
  host: string;
  port: number;
  timeoutMs?: number;
}): SecureDnsQuery {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return async (name, type) => {
    const packet: dnsPacket.Packet = {
      type: 'query',
      id: randomInt(0, 65_536),
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
      questions: [{ type, name, class: 'IN' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: EDNS_PAYLOAD,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: dnsPacket.DNSSEC_OK,
          flag_do: true,
          options: [],
        },
      ],
    };
    let reply = await overUdp(options.host, options.port, packet, timeoutMs);
    if (reply.flag_tc) reply = await overTcp(options.host, options.port, packet, timeoutMs);
    const question = reply.questions?.[0];
    if (reply.id !== packet.id || question?.name.toLowerCase() !== name.toLowerCase().replace(/\.$/, ''))
      throw new DnsQueryError(`mismatched DNS reply for ${name} ${type}`);
    return {
      // dns-packet decodes the response code as `rcode` ('NOERROR', 'SERVFAIL'...); its types omit it.
      rcode: (reply as { rcode?: string }).rcode ?? 'NOERROR',
      authenticated: reply.flag_ad === true,
      answers: reply.answers ?? [],
    };
  };
}

type Reply = dnsPacket.DecodedPacket;

function overUdp(host: string, port: number, packet: dnsPacket.Packet, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(
      () => done(new DnsQueryError(`DNS query to ${host}:${port} timed out`)),
      timeoutMs,
    );
    const done = (error: Error | undefined, reply?: Reply) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else if (reply) resolve(reply);
    };
    socket.on('error', (error) => done(new DnsQueryError(`DNS query to ${host}:${port}: ${error.message}`)));
    socket.on('message', (message) => {
      let reply: Reply;
      try {
        reply = dnsPacket.decode(message);
      } catch (error) {
        done(new DnsQueryError(`malformed DNS reply from ${host}:${port}: ${String(error)}`));
        return;
      }
      // A reply to another id is not ours (spoofing or a late answer): keep waiting.
      if (reply.id === packet.id) done(undefined, reply);
    });
    socket.send(dnsPacket.encode(packet), port, host);
  });
}

function overTcp(host: string, port: number, packet: dnsPacket.Packet, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new DnsQueryError(`DNS query to ${host}:${port} over TCP timed out`)),
    );
    socket.on('error', (error) =>
      reject(error instanceof DnsQueryError ? error : new DnsQueryError(`DNS over TCP: ${error.message}`)),
    );
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
      socket.end();
      try {
        resolve(dnsPacket.streamDecode(buffer) as Reply);
      } catch (error) {
        reject(new DnsQueryError(`malformed DNS reply over TCP: ${String(error)}`));
      }
    });
    socket.write(dnsPacket.streamEncode(packet));
  });
}
