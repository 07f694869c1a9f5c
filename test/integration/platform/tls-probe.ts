// Connects to a TLS listener the way a client does (implicit TLS, or a plain exchange then STARTTLS)
// and returns the certificate it was served; used by the certificate reload and SNI tests.
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type PeerCertificate, type TLSSocket } from 'node:tls';
import { eventually } from '@hermod/test/harness';

function served(socket: TLSSocket): PeerCertificate {
  const peer = socket.getPeerCertificate();
  socket.destroy();
  return peer;
}

/** Implicit TLS: the handshake at once, naming servername (SNI) when given. */
export function implicitTls(port: number, servername?: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connectTls(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) },
      () => resolve(served(socket)),
    );
    socket.once('error', reject);
  });
}

/** Plain connection, a command exchange in the clear, then the TLS handshake over the same socket. */
export async function startTls(
  port: number,
  exchange: Array<[string | undefined, RegExp]>,
  servername?: string,
): Promise<PeerCertificate> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  try {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
    };
    socket.on('data', onData);
    for (const [line, reply] of exchange) {
      text = '';
      if (line !== undefined) socket.write(`${line}\r\n`);
      await eventually(
        `reply ${reply} to ${line}`,
        async () => (reply.test(text) ? true : undefined),
        10_000,
      );
    }
    socket.off('data', onData);
    return await new Promise<PeerCertificate>((resolve, reject) => {
      const secure = connectTls(
        { socket, rejectUnauthorized: false, ...(servername ? { servername } : {}) },
        () => resolve(served(secure)),
      );
      secure.once('error', reject);
    });
  } finally {
    socket.destroy();
  }
}

/** The exchange before STARTTLS on an SMTP port (msa submission, mx). */
export const smtpStartTlsExchange: Array<[string | undefined, RegExp]> = [
  [undefined, /^220 /m],
  ['EHLO client.test', /^250 /m],
  ['STARTTLS', /^220 /m],
];
