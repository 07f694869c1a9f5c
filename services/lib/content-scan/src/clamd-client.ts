import { connect, type Socket } from 'node:net';
import { ScanError } from './errors.js';

/** Where clamd listens: `host:port` (TCPSocket) or an absolute path (LocalSocket). */
export type ClamdAddress = { host: string; port: number } | { path: string };

/** `127.0.0.1:3310`, `[::1]:3310` or `/run/clamav/clamd.ctl`. */
export function parseClamdAddress(text: string): ClamdAddress {
  if (text.startsWith('/')) return { path: text };
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`clamd address must be host:port or an absolute socket path: ${text}`);
  return { host: m[1]!, port: Number(m[2]) };
}

export type ClamdReply = { status: 'clean' } | { status: 'infected'; signature: string };

/**
 * clamd's answer to INSTREAM: `stream: OK`, `stream: <signature> FOUND`, or `<text> ERROR`
 * (`INSTREAM size limit exceeded. ERROR` once StreamMaxLength is passed).
 */
export function parseClamdReply(text: string): ClamdReply {
  const line = text.replace(/[\0\r\n]+$/, '');
  if (line === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(line);
  if (found) return { status: 'infected', signature: found[1]! };
  if (/size limit exceeded/i.test(line)) throw new ScanError('size-limit', `clamd: ${line}`);
  if (/ERROR$/.test(line)) throw new ScanError('scanner', `clamd: ${line}`);
  throw new ScanError('protocol', `clamd: unexpected reply ${JSON.stringify(line.slice(0, 200))}`);
}

/**
 * One INSTREAM session (clamd's `zINSTREAM\0`): chunks go out as they are written, each after its
 * 4-byte big-endian length; end() sends the zero-length terminator and resolves with the verdict.
 * clamd may answer early (size limit) and close: the answer wins over the write error it causes.
 * Every failure is a ScanError; after a failure, writes are ignored and end() rejects with it.
 */
export class ClamdStream {
  private readonly socket: Socket;
  private readonly reply: Promise<ClamdReply>;
  private failure: ScanError | undefined;
  private finished = false;
  /** clamd answered before the end (it does so when StreamMaxLength is passed). */
  private answered = false;
  private fail: (error: ScanError) => void = () => {};
  private timer: NodeJS.Timeout | undefined;

  /**
   * timeoutMs bounds each wait on clamd: for it to take more data while the message arrives, and
   * for its verdict after the end; a slow client never counts against it.
   */
  constructor(
    address: ClamdAddress,
    private readonly timeoutMs: number,
  ) {
    this.socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    const received: Buffer[] = [];
    this.reply = new Promise<ClamdReply>((resolve, reject) => {
      let connected = false;
      const fail = (error: ScanError) => {
        clearTimeout(this.timer);
        this.failure ??= error;
        this.socket.destroy();
        reject(this.failure);
      };
      this.fail = fail;
      this.socket.on('connect', () => {
        connected = true;
      });
      this.socket.on('data', (d: Buffer) => {
        received.push(d);
        this.answered = true;
        if (d.includes(0)) this.socket.end();
      });
      this.socket.on('error', (error: NodeJS.ErrnoException) => {
        // A reset after clamd's early answer (size limit) is settled on close with that answer.
        if (received.length > 0) return;
        const text = connected
          ? `clamd dropped the stream (${error.code ?? error.message}); is StreamMaxLength below the scan size limit?`
          : `clamd: ${error.code ?? error.message}`;
        fail(new ScanError(connected ? 'protocol' : 'unavailable', text, { cause: error }));
      });
      this.socket.on('close', () => {
        clearTimeout(this.timer);
        if (this.failure) return reject(this.failure);
        const text = Buffer.concat(received).toString('utf8');
        if (text === '') return fail(new ScanError('protocol', 'clamd closed without a reply'));
        try {
          resolve(parseClamdReply(text));
        } catch (error) {
          fail(error as ScanError);
        }
      });
    });
    this.reply.catch(() => {});
    // Small writes go out at once: waiting for an ACK (Nagle) before the terminator or the next
    // chunk only adds latency to every message.
    this.socket.setNoDelay(true);
    this.socket.write('zINSTREAM\0');
  }

  /** Sends one chunk; resolves when the socket can take more (or at once after a failure). */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure || this.finished || this.answered || chunk.length === 0 || this.socket.destroyed) return;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.length);
    // The length and its chunk in one write (one segment, one system call).
    this.socket.cork();
    this.socket.write(length);
    const more = this.socket.write(chunk);
    this.socket.uncork();
    if (more) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.socket.once('drain', resolve)),
      this.reply.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.fail(new ScanError('timeout', `clamd took no data for ${this.timeoutMs} ms`));
          resolve();
        }, this.timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Sends the terminator and waits for clamd's verdict. */
  async end(): Promise<ClamdReply> {
    if (!this.finished && !this.failure && !this.answered && !this.socket.destroyed) {
      this.finished = true;
      this.socket.write(Buffer.alloc(4));
    }
    if (!this.failure && !this.timer)
      this.timer = setTimeout(
        () => this.fail(new ScanError('timeout', `clamd gave no verdict within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    return this.reply;
  }

  /** Gives up (the message was refused or failed before its end). */
  abort(): void {
    clearTimeout(this.timer);
    this.failure ??= new ScanError('protocol', 'scan aborted');
    this.socket.destroy();
  }
}

/** `zPING\0` -> `PONG`: whether clamd answers (readiness of the test harness, diagnostics). */
export function pingClamd(address: ClamdAddress, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    let text = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (d) => {
      text += d.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text.startsWith('PONG'));
    });
    socket.end('zPING\0');
  });
}
