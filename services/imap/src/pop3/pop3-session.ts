import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from '@hermod/logging';
import type { RecordLoginRefusal } from '../auth/login-refusals.js';
import { handshake } from '../server.js';
import type { LoginGuard, UserConnectionGuard } from '../session/session.js';
import type { AuthenticatedUser, MailBackend } from '../store/mail-backend.js';
import { LineReader } from './line-reader.js';

export const Pop3State = {
  Authorization: 'authorization',
  Transaction: 'transaction',
  Update: 'update',
} as const;
export type Pop3State = (typeof Pop3State)[keyof typeof Pop3State];

export interface Pop3Message {
  uid: number;
  bodyId: number;
  size: number;
}

export interface Pop3Reply {
  ok: boolean;
  text: string;
  /** A multi-line body (already dot-stuffed and terminated). */
  body?: AsyncIterable<Buffer> | Iterable<Buffer>;
  /** The command already answered (STLS, QUIT). */
  silent?: boolean;
}

export interface Pop3Command {
  name: string;
  states: readonly Pop3State[];
  run(session: Pop3Session, args: string[]): Promise<Pop3Reply>;
}

export interface Pop3Dependencies {
  backend: MailBackend;
  commands: ReadonlyMap<string, Pop3Command>;
  logger: Logger;
  tlsContext: SecureContext | undefined;
  loginGuard: LoginGuard;
  /** Counts and logs refused logins (hermod_imap_rejections_total). */
  refused: RecordLoginRefusal;
  userGuard: UserConnectionGuard;
  allowPlaintextAuth: boolean;
  idleTimeoutMs: number;
  maxAuthFailures: number;
}

/** One POP3 connection (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL) over the same store as IMAP. */
export class Pop3Session {
  readonly id = randomUUID();
  readonly logger: Logger;
  state: Pop3State = Pop3State.Authorization;
  user: AuthenticatedUser | undefined;
  /** USER given, awaiting PASS. */
  pendingUser: string | undefined;
  mailboxId = 0;
  uidvalidity = 0;
  messages: Pop3Message[] = [];
  readonly deleted = new Set<number>();
  authFailures = 0;
  secure: boolean;
  private socket: Socket;
  private reader = new LineReader(1024);
  private queue: Array<string | 'too-long'> = [];
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private userSlot: number | undefined;

  constructor(
    socket: Socket,
    readonly deps: Pop3Dependencies,
    private readonly options: { secure: boolean; remoteAddress: string; onClose?: () => void },
  ) {
    this.socket = socket;
    this.secure = options.secure;
    this.logger = deps.logger.child({ sessionId: this.id, remote: options.remoteAddress, protocol: 'pop3' });
  }

  get remoteAddress(): string {
    return this.options.remoteAddress;
  }

  get backend(): MailBackend {
    return this.deps.backend;
  }

  start(): void {
    this.attach(this.socket);
    this.write('+OK Hermod POP3 ready\r\n');
    this.touch();
  }

  private readonly onSocketData = (data: Buffer) => {
    this.touch();
    this.queue.push(...this.reader.push(data));
    void this.drain();
  };
  private readonly onSocketClose = () => this.finish();

  private attach(socket: Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('error', () => {});
    socket.on('close', this.onSocketClose);
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const line = this.queue.shift()!;
        if (line === 'too-long') {
          this.write('-ERR Line too long\r\n');
          this.close();
          return;
        }
        await this.handle(line);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'pop3 command failed');
      this.write('-ERR Internal error\r\n');
      this.close();
    } finally {
      this.running = false;
    }
  }

  /** The next raw line (SASL continuation), waiting for it if needed. */
  async readLine(): Promise<string | null> {
    while (this.queue.length === 0) {
      if (this.closed) return null;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const line = this.queue.shift()!;
    return line === 'too-long' ? null : line;
  }

  private async handle(line: string): Promise<void> {
    const [verb = '', ...args] = line.split(' ');
    const command = this.deps.commands.get(verb.toUpperCase());
    if (!command) return void this.write('-ERR Unknown command\r\n');
    if (!command.states.includes(this.state)) return void this.write('-ERR Command not allowed now\r\n');
    const reply = await command.run(this, args);
    if (reply.silent) return;
    this.write(`${reply.ok ? '+OK' : '-ERR'}${reply.text ? ` ${reply.text}` : ''}\r\n`);
    if (reply.body) for await (const chunk of reply.body) await this.writeAsync(chunk);
  }

  /** The message a 1-based number names, unless deleted. */
  message(arg: string | undefined): Pop3Message | undefined {
    if (!arg || !/^\d{1,9}$/.test(arg)) return undefined;
    const n = Number(arg);
    return n >= 1 && !this.deleted.has(n) ? this.messages[n - 1] : undefined;
  }

  uidl(message: Pop3Message): string {
    return `${this.uidvalidity}.${message.uid}`;
  }

  /** Enters TRANSACTION: takes a snapshot of INBOX (numbers are stable for the session). */
  async enter(user: AuthenticatedUser): Promise<Pop3Reply> {
    if (!this.deps.userGuard.acquire(user.id))
      return { ok: false, text: '[IN-USE] Too many connections for this user' };
    this.userSlot = user.id;
    const inbox = await this.backend.findMailbox(user.id, 'INBOX');
    if (!inbox) return { ok: false, text: '[SYS/TEMP] No INBOX' };
    const snapshot = await this.backend.snapshot(inbox.id);
    const metas = snapshot ? await this.backend.messages(inbox.id, snapshot.uids) : [];
    this.messages = metas.map((m) => ({ uid: m.uid, bodyId: m.bodyId, size: m.size }));
    this.mailboxId = inbox.id;
    this.uidvalidity = inbox.uidvalidity;
    this.user = user;
    this.state = Pop3State.Transaction;
    this.logger.info({ user: user.address }, 'pop3 login');
    return { ok: true, text: `Logged in, ${this.messages.length} messages` };
  }

  async startTls(): Promise<void> {
    const context = this.deps.tlsContext!;
    this.queue = [];
    this.reader = new LineReader(1024);
    const plain = this.socket;
    // Only this session's own handlers: the listener's (which frees the per-IP slot) stay.
    plain.off('data', this.onSocketData);
    plain.off('close', this.onSocketClose);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    this.secure = true;
    if (!(await handshake(secure))) {
      // A failed or abandoned handshake ends the session now (its slots are freed at once).
      this.finish();
      secure.destroy();
      return;
    }
    this.attach(secure);
  }

  write(data: string | Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  async writeAsync(data: Buffer): Promise<void> {
    if (!this.write(data) && !this.closed)
      await new Promise<void>((resolve) => this.socket.once('drain', resolve));
  }

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.write('-ERR Idle timeout\r\n');
      this.close();
    }, this.deps.idleTimeoutMs);
    this.timer.unref();
  }

  shutdown(): void {
    this.write('-ERR Server shutting down\r\n');
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2_000).unref();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.userSlot !== undefined) this.deps.userGuard.release(this.userSlot);
    this.options.onClose?.();
  }
}
