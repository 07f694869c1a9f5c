// A raw SMTP client for byte-exact tests: writes exactly the bytes given, reads complete replies.
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export class SmtpWire {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  static async open(port: number, prefix?: Buffer): Promise<SmtpWire> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (prefix) socket.write(prefix);
    return new SmtpWire(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next complete reply (all its lines), or '' when the server closed without one. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0];
      }
      if (this.closed) return '';
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; have ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends one command line and returns its reply. */
  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Resolves once the server has closed the connection; fails after timeoutMs. */
  async whenClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Upgrades to TLS after a 220 to STARTTLS. */
  async startTls(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'mx.hermod.test' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Opens a session up to an accepted RCPT; returns the wire ready for DATA. */
export async function openTransaction(port: number, from: string, to: string[]): Promise<SmtpWire> {
  const wire = await SmtpWire.open(port);
  expectCode(await wire.reply(), 220);
  expectCode(await wire.command('EHLO client.example'), 250);
  expectCode(await wire.command(`MAIL FROM:<${from}>`), 250);
  for (const r of to) expectCode(await wire.command(`RCPT TO:<${r}>`), 250);
  return wire;
}

/** The reply to one RCPT in a fresh session, without sending a message. */
export async function rcptReply(
  port: number,
  address: string,
  from = 'sender@remote.example',
): Promise<string> {
  const wire = await SmtpWire.open(port);
  try {
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO client.example'), 250);
    expectCode(await wire.command(`MAIL FROM:<${from}>`), 250);
    const reply = await wire.command(`RCPT TO:<${address}>`);
    await wire.command('QUIT');
    return reply;
  } finally {
    wire.close();
  }
}

export function expectCode(reply: string, code: number): string {
  if (!reply.startsWith(String(code))) throw new Error(`expected ${code}, got ${JSON.stringify(reply)}`);
  return reply;
}

/**
 * A submission session over STARTTLS with AUTH PLAIN sent; returns the wire and the reply to AUTH
 * (the caller checks it: 235, or a refusal it expects).
 */
export async function submissionSession(
  port: number,
  user: string,
  password: string,
): Promise<{ wire: SmtpWire; auth: string }> {
  const wire = await SmtpWire.open(port);
  expectCode(await wire.reply(), 220);
  expectCode(await wire.command('EHLO laptop.client.test'), 250);
  expectCode(await wire.command('STARTTLS'), 220);
  await wire.startTls();
  expectCode(await wire.command('EHLO laptop.client.test'), 250);
  const plain = Buffer.from(`\0${user}\0${password}`).toString('base64');
  return { wire, auth: await wire.command(`AUTH PLAIN ${plain}`) };
}

/**
 * One message through submission as an authenticated user (EHLO, STARTTLS, AUTH PLAIN), without
 * swaks (its TLS needs Perl's Net::SSLeay); returns the reply to the end of DATA.
 */
export async function submitMessage(
  port: number,
  message: { user: string; password: string; to: string; subject: string; from?: string },
): Promise<string> {
  const from = message.from ?? message.user;
  const { wire, auth } = await submissionSession(port, message.user, message.password);
  try {
    expectCode(auth, 235);
    expectCode(await wire.command(`MAIL FROM:<${from}>`), 250);
    expectCode(await wire.command(`RCPT TO:<${message.to}>`), 250);
    expectCode(await wire.command('DATA'), 354);
    wire.write(
      `From: ${from}\r\nTo: ${message.to}\r\nSubject: ${message.subject}\r\n\r\nBody of ${message.subject}.\r\n.\r\n`,
    );
    const reply = await wire.reply();
    await wire.command('QUIT').catch(() => '');
    return reply;
  } finally {
    wire.close();
  }
}
