// One login over TLS from a chosen loopback address, for SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH and
// ManageSieve AUTHENTICATE (after STARTTLS) alike, answered as ok / failed / locked / refused.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type LoginProtocol = 'smtp' | 'imap' | 'pop3' | 'sieve';
export type LoginOutcome = 'ok' | 'failed' | 'locked' | 'refused';

/** `next(pattern)` waits for the server's output to match and consumes it up to the end of the match. */
function lineClient<S extends Socket>(socket: S) {
  socket.setTimeout(20_000, () => socket.destroy(new Error('timeout')));
  let buffer = '';
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    wake();
  });
  socket.on('error', () => {});
  socket.on('close', wake);
  const next = async (complete: RegExp): Promise<string> => {
    for (;;) {
      const match = complete.exec(buffer);
      if (match) {
        buffer = buffer.slice(match.index + match[0].length);
        return match[0];
      }
      if (socket.destroyed) throw new Error(`closed; have ${JSON.stringify(buffer)}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { socket, next };
}

/** An implicit-TLS client from the given loopback address; `prefix` goes first (a PROXY header). */
export function openTlsClient(port: number, localAddress: string, prefix?: Buffer) {
  const tcp = connect({ host: '127.0.0.1', port, localAddress });
  if (prefix) tcp.write(prefix);
  return lineClient(tlsConnect({ socket: tcp, rejectUnauthorized: false }));
}

/**
 * A ManageSieve client from the given loopback address, after STARTTLS (RFC 5804 has no implicit
 * TLS port); the capabilities the server re-issues after the handshake are left to read.
 */
export async function openManageSieveClient(port: number, localAddress: string) {
  const plain = lineClient(connect({ host: '127.0.0.1', port, localAddress }));
  const status = /(?:^|\n)(?:OK|NO|BYE)[^\r\n]*\r\n/;
  await plain.next(status);
  plain.socket.write('STARTTLS\r\n');
  const answer = await plain.next(status);
  if (!/^\s*OK/.test(answer)) throw new Error(`STARTTLS refused: ${answer}`);
  plain.socket.removeAllListeners('data');
  return lineClient(tlsConnect({ socket: plain.socket, rejectUnauthorized: false }));
}

/**
 * One login over TLS from the given loopback address; returns how the server answered (SMTP
 * 235/535/454, IMAP OK/NO [AUTHENTICATIONFAILED]/NO [UNAVAILABLE], POP3 +OK/-ERR [AUTH]/-ERR
 * [SYS/TEMP], ManageSieve OK/NO/NO (TRYLATER)).
 */
export async function login(
  protocol: LoginProtocol,
  port: number,
  localAddress: string,
  username: string,
  password: string,
  authzid = '',
  proxyHeader?: Buffer,
): Promise<LoginOutcome> {
  const { socket, next } =
    protocol === 'sieve'
      ? await openManageSieveClient(port, localAddress)
      : openTlsClient(port, localAddress, proxyHeader);
  const plain = Buffer.from(`${authzid}\0${username}\0${password}`).toString('base64');
  try {
    if (protocol === 'smtp') {
      const reply = /(?:^|\n)\d{3} [^\r\n]*\r\n/;
      await next(reply);
      socket.write('EHLO attacker.test\r\n');
      await next(reply);
      socket.write(`AUTH PLAIN ${plain}\r\n`);
      const answer = await next(reply);
      socket.write('QUIT\r\n');
      if (/^\s*235 /.test(answer)) return 'ok';
      if (/^\s*535 5\.7\.8 Not authorized/.test(answer)) return 'refused';
      if (/^\s*535 /.test(answer)) return 'failed';
      if (/^\s*454 /.test(answer)) return 'locked';
      throw new Error(`unexpected SMTP reply ${answer}`);
    }
    if (protocol === 'sieve') {
      const final = /(?:^|\n)(?:OK|NO|BYE)[^\r\n]*\r\n/;
      await next(final);
      socket.write(`AUTHENTICATE "PLAIN" "${plain}"\r\n`);
      const answer = await next(final);
      socket.write('LOGOUT\r\n');
      if (/^\s*OK/.test(answer)) return 'ok';
      if (/^\s*NO \(TRYLATER\)/.test(answer)) return 'locked';
      if (/^\s*NO "Invalid credentials"/.test(answer)) return 'failed';
      throw new Error(`unexpected ManageSieve reply ${answer}`);
    }
    if (protocol === 'imap') {
      await next(/^\* OK[^\r\n]*\r\n/);
      socket.write(`a AUTHENTICATE PLAIN ${plain}\r\n`);
      const answer = await next(/(?:^|\n)a [^\r\n]*\r\n/);
      socket.write('b LOGOUT\r\n');
      if (/a OK/.test(answer)) return 'ok';
      if (/\[AUTHENTICATIONFAILED\]/.test(answer)) return 'failed';
      if (/\[UNAVAILABLE\]/.test(answer)) return 'locked';
      throw new Error(`unexpected IMAP reply ${answer}`);
    }
    await next(/^\+OK[^\r\n]*\r\n/);
    socket.write(`AUTH PLAIN ${plain}\r\n`);
    const answer = await next(/^[+-][^\r\n]*\r\n/);
    socket.write('QUIT\r\n');
    if (answer.startsWith('+OK')) return 'ok';
    if (answer.startsWith('-ERR [AUTH]')) return 'failed';
    if (answer.startsWith('-ERR [SYS/TEMP]')) return 'locked';
    throw new Error(`unexpected POP3 reply ${answer}`);
  } finally {
    socket.end();
  }
}
