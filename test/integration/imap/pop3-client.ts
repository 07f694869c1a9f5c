// A POP3 client speaking raw lines for conformance tests: over TLS (POP3S) or plain TCP (then STLS).
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';

/** Multi-line replies are collected up to the lone dot; `raw` keeps every octet as received (latin1). */
export class RawPop3 {
  private buffer = '';
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  /** Every octet received since the last takeRaw(), as latin1 text. */
  private rawText = '';
  closed = false;
  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }
  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      this.rawText += data;
      this.buffer += data;
      for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }
  /** POP3S (implicit TLS); the greeting is read. */
  static async connect(port: number): Promise<RawPop3> {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawPop3(socket);
    assert.match(await client.line(), /^\+OK/);
    return client;
  }
  /** Plain TCP (the STLS port); the greeting is read. */
  static async connectPlain(port: number): Promise<RawPop3> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connectTcp({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawPop3(socket);
    assert.match(await client.line(), /^\+OK/);
    return client;
  }
  /** Sends `STLS` (with `pipelined` after it in the same write), expects +OK, then does the TLS handshake. */
  async stls(pipelined = ''): Promise<void> {
    this.socket.write(`STLS\r\n${pipelined}`);
    assert.match(await this.line(), /^\+OK/);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    this.socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.attach(this.socket);
  }
  /** Waits until ready() holds, failing with `failure` once the deadline has passed. */
  private async until(ready: () => boolean, timeoutMs: number, failure: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(failure());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async line(timeoutMs = 10_000): Promise<string> {
    await this.until(
      () => this.lines.length > 0 || this.closed,
      timeoutMs,
      () => 'timed out',
    );
    if (this.lines.length === 0) throw new Error('connection closed');
    return this.lines.shift()!;
  }
  /** Resolves once the server has closed the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<void> {
    await this.until(
      () => this.closed,
      timeoutMs,
      () => 'connection still open',
    );
  }
  /** What arrived and was not read yet (lines and a partial one). */
  unread(): string {
    return [...this.lines, this.buffer].join('\r\n');
  }
  send(text: string): void {
    this.socket.write(`${text}\r\n`);
  }
  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }
  async cmd(text: string): Promise<string> {
    this.send(text);
    return this.line();
  }
  /** A multi-line reply: the status line and the (dot-unstuffed) body lines. */
  async multi(text: string): Promise<{ status: string; body: string[] }> {
    const status = await this.cmd(text);
    if (!status.startsWith('+OK')) return { status, body: [] };
    const body: string[] = [];
    for (let l = await this.line(); l !== '.'; l = await this.line())
      body.push(l.startsWith('.') ? l.slice(1) : l);
    return { status, body };
  }
  /**
   * A multi-line reply as the octets that came after the status line, terminator included
   * (latin1 text), to check line ends and byte-stuffing exactly.
   */
  async multiRaw(text: string): Promise<{ status: string; octets: string }> {
    this.assertNothingUnread();
    this.rawText = '';
    const { status } = await this.multi(text);
    const octets = this.rawText.slice(this.rawText.indexOf('\r\n') + 2);
    return { status, octets };
  }
  /** Fails when lines are buffered unread (the previous reply was not read whole). */
  private assertNothingUnread(): void {
    assert.equal(this.lines.length, 0, `unread lines: ${this.lines.join('|')}`);
  }
  close(): void {
    this.socket.destroy();
  }
}
