import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createDeflateRaw, createInflateRaw, type DeflateRaw, constants as zlibConstants } from 'node:zlib';
import type { Logger } from '@hermod/logging';
import type { ServerTls } from '@hermod/service-runtime';

/**
 * Cuts the input into what a session reads: lines (POP3), commands with their literals (IMAP,
 * ManageSieve). It enforces its own limits and knows nothing of sockets.
 */
export interface InputReader<T> {
  /** What the input so far completes, in order. */
  push(data: Buffer): T[];
  /** What the input held back behind a command (IMAP's STARTTLS) completes, once it may be read. */
  release?(): T[];
}

export interface ConnectionOptions<T> {
  /** A fresh reader: at the start, and after STARTTLS (what was buffered in plaintext is dropped). */
  newReader(): InputReader<T>;
  /** The inactivity limit, read each time the timer is armed (IMAP's IDLE has a longer one). */
  idleTimeoutMs(): number;
  /** Inactivity: the session says goodbye and closes. */
  onIdle(): void;
  /** Called once when the connection ends, closed by either side: the session frees its slots. */
  onEnd(): void;
  /** Reading pauses while more inputs than this wait for the session (default: no limit). */
  maxQueued?: number;
  /** Writes of one turn of the event loop leave in one system call (IMAP's FETCH lines and literals). */
  cork?: boolean;
  /** The session's logger, asked for only when there is something to log (it may be made then). */
  logger(): Logger;
}

/** Bytes of responses that may wait for the next command boundary before they are sent anyway. */
const HELD_BYTES = 16_384;

/**
 * The transport of one IMAP, POP3 or ManageSieve connection: reads inputs through the protocol's
 * reader into a queue the session takes them from one at a time, writes with backpressure,
 * upgrades to TLS (STARTTLS, STLS), compresses (IMAP COMPRESS=DEFLATE), times out when idle and
 * closes. Protocol replies are the session's; this class only moves bytes.
 */
export class Connection<T> {
  private socket: Socket;
  private reader: InputReader<T>;
  private queue: T[] = [];
  private waiter: ((input: T | null) => void) | undefined;
  private ended = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private deflater: DeflateRaw | undefined;
  private flushScheduled = false;
  private corked: Socket | undefined;
  /**
   * Text written while corked, not yet handed to the socket: a command's lines become one chunk
   * (one string to encode, one entry in the socket's buffer) instead of one per line.
   */
  private pending = '';
  private held = false;
  private idleMs = 0;
  private uncorkScheduled = false;

  constructor(
    socket: Socket,
    private readonly options: ConnectionOptions<T>,
  ) {
    this.socket = socket;
    this.reader = options.newReader();
  }

  /** Starts reading and the inactivity timer. */
  start(): void {
    this.attach(this.socket);
    this.touch();
  }

  private readonly onSocketData = (data: Buffer) => this.onData(data);
  private readonly onSocketClose = () => this.end();

  private attach(socket: Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('error', (error) => this.options.logger().debug({ err: error }, 'socket error'));
    socket.on('close', this.onSocketClose);
    socket.setNoDelay(true);
  }

  private onData(data: Buffer): void {
    this.touch();
    this.dispatch(this.reader.push(data));
  }

  /** Reads on where the reader held input back (a STARTTLS that was refused). */
  resumeInput(): void {
    const inputs = this.reader.release?.();
    if (inputs && inputs.length > 0) this.dispatch(inputs);
  }

  private dispatch(inputs: T[]): void {
    for (const input of inputs) {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(input);
      } else this.queue.push(input);
    }
    const max = this.options.maxQueued;
    if (max !== undefined && this.queue.length > max) this.socket.pause();
  }

  /** The next input from the client; null once the connection has ended. */
  next(): Promise<T | null> {
    const queued = this.queue.shift();
    const max = this.options.maxQueued;
    if (max !== undefined && this.queue.length < max && this.socket.isPaused()) this.socket.resume();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /**
   * Hands the inputs to handle one at a time, in arrival order, until the connection ends. What
   * handle throws goes to onError (which answers and closes): commands never run concurrently.
   */
  async serve(handle: (input: T) => Promise<void>, onError: (error: unknown) => void): Promise<void> {
    while (!this.ended) {
      const input = await this.next();
      if (input === null || this.ended) break;
      try {
        await handle(input);
      } catch (error) {
        onError(error);
      }
    }
  }

  write(data: string | Buffer): boolean {
    if (this.ended || this.socket.destroyed) return false;
    if (this.deflater) {
      const accepted = this.deflater.write(data);
      // One sync flush per turn of the event loop: responses go out promptly without a flush per line.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.deflater?.flush(zlibConstants.Z_SYNC_FLUSH);
        });
      }
      return accepted;
    }
    if (this.options.cork) {
      if (!this.corked) {
        this.corked = this.socket;
        this.corked.cork();
        this.scheduleUncork();
      }
      if (typeof data === 'string') {
        this.pending += data;
        // Past the socket's high-water mark the socket has it, so backpressure works as before.
        if (this.pending.length + this.socket.writableLength < this.socket.writableHighWaterMark) return true;
        return this.writePending();
      }
      this.writePending();
    }
    return this.socket.write(data);
  }

  /** Hands the pending text to the socket; socket.write's answer (false: wait for 'drain'). */
  private writePending(): boolean {
    if (this.pending === '') return true;
    const text = this.pending;
    this.pending = '';
    return this.socket.destroyed ? false : this.socket.write(text);
  }

  /**
   * From now until release(), what is written waits in the socket (with cork): a command's
   * untagged and tagged responses leave in one system call even when it awaited storage between
   * them. Backpressure (writeAsync) and flush() still send at once.
   */
  hold(): void {
    // A pipelined command's predecessors' responses may still wait: bounded, they ride along.
    if (this.corked && this.corked.writableLength + this.pending.length >= HELD_BYTES) this.uncork();
    this.held = true;
  }

  /** Ends hold(): what waits leaves at the end of this turn of the event loop. */
  release(): void {
    this.held = false;
    this.scheduleUncork();
  }

  /** Sends what waits now (before waiting for the client, who must see it first). */
  flush(): void {
    this.uncork();
  }

  private scheduleUncork(): void {
    if (this.held || this.uncorkScheduled || !this.corked) return;
    this.uncorkScheduled = true;
    setImmediate(() => {
      this.uncorkScheduled = false;
      if (!this.held) this.uncork();
    });
  }

  /** Writes with backpressure: waits for the socket to drain (or close) before the caller sends more. */
  async writeAsync(data: string | Buffer): Promise<void> {
    if (this.write(data) || this.ended) return;
    await this.drained();
  }

  /**
   * After a write() that answered false: resolves once the socket has drained (or closed), so a
   * caller that writes much (FETCH) waits only when it must, without a promise per write.
   */
  async drained(): Promise<void> {
    if (this.ended) return;
    // A held (corked) socket drains only once uncorked.
    this.uncork();
    const target = this.deflater ?? this.socket;
    const socket = this.socket;
    await new Promise<void>((resolve) => {
      const done = () => {
        target.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      target.once('drain', done);
      socket.once('close', done);
    });
  }

  /** Sends what the current turn has written (before the socket is handed to TLS or deflate). */
  private uncork(): void {
    this.writePending();
    const corked = this.corked;
    this.corked = undefined;
    if (corked && !corked.destroyed) corked.uncork();
  }

  /**
   * STARTTLS / STLS: drops what the client pipelined in plaintext, then speaks TLS on the same
   * socket. False when the handshake failed or the peer went away: the connection has then ended
   * (its slots are freed at once).
   */
  async startTls(tls: ServerTls): Promise<boolean> {
    this.queue = [];
    this.reader = this.options.newReader();
    this.uncork();
    const plain = this.socket;
    // Only this connection's own handlers: the listener's (which frees the per-IP slot) stay.
    plain.off('data', this.onSocketData);
    plain.off('close', this.onSocketClose);
    const secure = new TLSSocket(plain, { isServer: true, ...tls });
    this.socket = secure;
    if (!(await handshake(secure))) {
      this.end();
      secure.destroy();
      return false;
    }
    this.attach(secure);
    return true;
  }

  get compressed(): boolean {
    return this.deflater !== undefined;
  }

  /** COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw deflate streams. */
  startCompression(): void {
    this.uncork();
    const inflater = createInflateRaw();
    const deflater = createDeflateRaw();
    this.socket.off('data', this.onSocketData);
    this.socket.on('data', (data: Buffer) => inflater.write(data));
    inflater.on('data', (data: Buffer) => this.onData(data));
    inflater.on('error', () => this.close());
    deflater.on('error', () => this.close());
    deflater.pipe(this.socket, { end: false });
    this.deflater = deflater;
  }

  /** (Re)arms the inactivity timer; input arriving re-arms it too. */
  touch(): void {
    if (this.ended) return;
    const ms = this.options.idleTimeoutMs();
    // Restarting the same timer (twice per command) is cheaper than a new one.
    if (this.idleTimer && ms === this.idleMs) {
      this.idleTimer.refresh();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleMs = ms;
    this.idleTimer = setTimeout(() => this.options.onIdle(), ms);
    this.idleTimer.unref();
  }

  /** Ends the connection after what was written has gone out (destroyed after 2 s at the latest). */
  close(): void {
    if (this.ended) return;
    this.writePending();
    const socket = this.socket;
    const deflater = this.deflater;
    if (deflater && !socket.destroyed) {
      // Under COMPRESS what was written last (BYE, LOGOUT's OK) is still inside the deflate stream:
      // finish it, and end the socket only once its last bytes have been handed over.
      deflater.once('end', () => socket.end());
      deflater.end();
    } else socket.end();
    setTimeout(() => socket.destroy(), 2_000).unref();
    this.end();
  }

  get isClosed(): boolean {
    return this.ended;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const w = this.waiter;
    this.waiter = undefined;
    w?.(null);
    this.options.onEnd();
  }
}

/**
 * Waits for a server-side TLS handshake: true once secure, false if it failed or the peer went
 * away - then the caller ends its session at once, freeing its connection slots.
 */
export function handshake(secure: TLSSocket): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    secure.once('secure', () => resolve(true));
    secure.once('error', () => resolve(false));
    secure.once('close', () => resolve(false));
  });
}
