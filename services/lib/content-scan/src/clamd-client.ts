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
 * One connection to clamd in session mode (`zIDSESSION\0`): INSTREAM requests one after another
 * on the same socket, each reply `<n>: <text>\0` carrying its request number. clamd ends a session
 * after its IdleTimeout, on a protocol error or a size limit; such a session is closed here and
 * never used again (`usable`). Sessions are kept and lent out by ClamdSessionPool.
 */
export class ClamdSession {
  readonly socket: Socket;
  private requests = 0;
  private received: Buffer = Buffer.alloc(0);
  private connected = false;
  private pending: { id: number; settle: (reply: string | ScanError) => void } | undefined;
  /** Why the session ended (set once: the socket closed, failed, or clamd broke the protocol). */
  ended: ScanError | undefined;
  /** Replies received on this session (0: nothing has gone over it yet). */
  completed = 0;
  /** Called once when the session ends (the pool drops it). */
  onEnd: () => void = () => {};

  constructor(address: ClamdAddress) {
    this.socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    // Small writes go out at once: waiting for an ACK (Nagle) before the terminator or the next
    // chunk only adds latency to every message.
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.connected = true;
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      const text = this.connected
        ? `clamd dropped the stream (${error.code ?? error.message}); is StreamMaxLength below the scan size limit?`
        : `clamd: ${error.code ?? error.message}`;
      this.end(new ScanError(this.connected ? 'protocol' : 'unavailable', text, { cause: error }));
    });
    // clamd closes a session (IdleTimeout, errors) with a FIN; the socket is closed here as well.
    this.socket.on('end', () => this.end(new ScanError('protocol', 'clamd closed the session')));
    this.socket.on('close', () => this.end(new ScanError('protocol', 'clamd closed without a reply')));
    this.socket.write('zIDSESSION\0');
  }

  /** Whether a new request may go over this session. */
  get usable(): boolean {
    return !this.ended && !this.pending && !this.socket.destroyed;
  }

  /**
   * Starts a request whose bytes the caller writes (the command first); `settle` gets clamd's
   * reply text (without its number) or the failure.
   */
  request(settle: (reply: string | ScanError) => void): void {
    if (this.ended) {
      settle(this.ended);
      return;
    }
    this.pending = { id: ++this.requests, settle };
  }

  private onData(d: Buffer): void {
    this.received = this.received.length === 0 ? d : Buffer.concat([this.received, d]);
    for (let at = this.received.indexOf(0); at >= 0; at = this.received.indexOf(0)) {
      const line = this.received.subarray(0, at).toString('utf8');
      this.received = this.received.subarray(at + 1);
      const m = /^(\d+): (.*)$/s.exec(line);
      const pending = this.pending;
      if (!m || !pending || Number(m[1]) !== pending.id) {
        this.end(new ScanError('protocol', `clamd: unexpected reply ${JSON.stringify(line.slice(0, 200))}`));
        return;
      }
      this.pending = undefined;
      this.completed++;
      pending.settle(m[2]!);
    }
  }

  /** Ends the session: the pending request (if any) fails with `reason`; the socket is destroyed. */
  end(reason: ScanError): void {
    if (this.ended) return;
    this.ended = reason;
    this.socket.destroy();
    const pending = this.pending;
    this.pending = undefined;
    pending?.settle(reason);
    this.onEnd();
  }

  /** Ends an idle session politely (`zEND`) and closes it. */
  close(): void {
    if (this.ended) return;
    if (!this.pending && this.socket.writable) this.socket.write('zEND\0');
    this.socket.end();
    this.ended = new ScanError('protocol', 'session closed');
    this.onEnd();
  }
}

const INSTREAM = Buffer.from('zINSTREAM\0');
/** Chunks are sent once this much is queued (and at the end): 64 KiB, one socket write. */
const FLUSH_BYTES = 64 * 1024;

/**
 * One INSTREAM request (clamd's `zINSTREAM\0`) over a ClamdSession: chunks go out, each after its
 * 4-byte big-endian length, in writes of FLUSH_BYTES while the message arrives; end() sends the zero-length terminator and
 * resolves with the verdict. clamd may answer early (size limit) and close: the answer wins over
 * the write error it causes. Every failure is a ScanError; after a failure, writes are ignored and
 * end() rejects with it. After a clean or infected verdict the session can serve the next request.
 */
export class ClamdStream {
  private readonly socket: Socket;
  private readonly reply: Promise<ClamdReply>;
  private failure: ScanError | undefined;
  private finished = false;
  /** clamd answered (before the end: it does so when StreamMaxLength is passed). */
  answered = false;
  private timer: NodeJS.Timeout | undefined;
  /** Chunks not yet written, and their size. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private commandSent = false;

  /**
   * timeoutMs bounds each wait on clamd: for it to take more data while the message arrives, and
   * for its verdict after the end; a slow client never counts against it.
   */
  constructor(
    readonly session: ClamdSession,
    private readonly timeoutMs: number,
  ) {
    this.socket = session.socket;
    this.reply = new Promise<ClamdReply>((resolve, reject) => {
      session.request((text) => {
        clearTimeout(this.timer);
        if (text instanceof ScanError) {
          this.failure ??= text;
          return reject(this.failure);
        }
        this.answered = true;
        try {
          const reply = parseClamdReply(text);
          // An answer before the terminator leaves the request half-sent: the session is done.
          if (!this.finished) session.end(new ScanError('protocol', 'clamd answered early'));
          resolve(reply);
        } catch (error) {
          this.failure ??= error as ScanError;
          session.end(this.failure);
          reject(this.failure);
        }
      });
    });
    this.reply.catch(() => {});
  }

  /** Why the request failed, once it has (clamd closed or refused it, or a wait timed out). */
  get failed(): ScanError | undefined {
    return this.failure;
  }

  private fail(error: ScanError): void {
    this.failure ??= error;
    this.session.end(error);
  }

  /**
   * Queues one chunk; the queue goes to clamd once it holds FLUSH_BYTES. Returns a promise only when
   * the socket is full (it resolves when the socket can take more, or at once after a failure), so
   * the common chunk costs its caller no promise. A small message thus goes out in one system call
   * at its end, command and terminator included.
   */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.failure || this.finished || this.answered || chunk.length === 0 || this.socket.destroyed) return;
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes < FLUSH_BYTES || this.flush()) return;
    return this.drained();
  }

  /** Resolves when the socket can take more, clamd answered or failed, or after timeoutMs (a failure). */
  private async drained(): Promise<void> {
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

  /**
   * Writes the queue in one buffer and one system call: the command before the first chunk, each
   * chunk after its 4-byte big-endian length, and the zero-length terminator when `last`. One copy
   * of at most FLUSH_BYTES plus a chunk costs less than a length buffer per chunk and a vectored
   * write of them all. False when the socket is full.
   */
  private flush(last = false): boolean {
    const command = this.commandSent ? 0 : INSTREAM.length;
    const out = Buffer.allocUnsafe(command + this.queuedBytes + 4 * this.queued.length + (last ? 4 : 0));
    let at = command > 0 ? INSTREAM.copy(out, 0) : 0;
    for (const chunk of this.queued) {
      at = out.writeUInt32BE(chunk.length, at);
      at += chunk.copy(out, at);
    }
    if (last) out.writeUInt32BE(0, at);
    this.commandSent = true;
    this.queued = [];
    this.queuedBytes = 0;
    return this.socket.write(out);
  }

  /** Sends the rest and the terminator, and waits for clamd's verdict. */
  async end(): Promise<ClamdReply> {
    if (!this.finished && !this.failure && !this.answered && !this.socket.destroyed) {
      this.finished = true;
      this.flush(true);
    }
    if (!this.failure && !this.answered && !this.timer)
      this.timer = setTimeout(
        () => this.fail(new ScanError('timeout', `clamd gave no verdict within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    return this.reply;
  }

  /** Gives up (the message was refused or failed before its end): the session is closed. */
  abort(): void {
    clearTimeout(this.timer);
    this.fail(new ScanError('protocol', 'scan aborted'));
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
