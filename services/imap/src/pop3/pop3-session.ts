import type { Socket } from 'node:net';
import type { LineSessionDependencies } from '../auth/login-dependencies.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';
import { LINE_TOO_LONG, LineReader } from '../transport/line-reader.js';
import { LineSession, type LineSessionOptions } from '../transport/line-session.js';
import { crlfSize } from './dot-stuff.js';

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

/**
 * The maildrop lock's lease (RFC 1939 8): renewed every third of it while the session lives, so a
 * replica that dies without releasing its locks frees them at most this long after.
 */
export const MAILDROP_LOCK_LEASE_MS = 60_000;

export interface Pop3Dependencies extends LineSessionDependencies {
  commands: ReadonlyMap<string, Pop3Command>;
  /**
   * The longest line read (CRLF excluded), commands and SASL responses alike: RFC 2449 caps commands
   * at 255 octets, but an OAuth bearer token in AUTH (RFC 5034, 7628) is often a few KiB.
   */
  maxLineLength: number;
}

/** One POP3 connection (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL) over the same store as IMAP. */
export class Pop3Session extends LineSession<string | typeof LINE_TOO_LONG, Pop3Dependencies> {
  state: Pop3State = Pop3State.Authorization;
  /** USER given, awaiting PASS. */
  pendingUser: string | undefined;
  mailboxId = 0;
  uidvalidity = 0;
  messages: Pop3Message[] = [];
  readonly deleted = new Set<number>();
  /** The mailbox whose maildrop lock this session holds, and the timer renewing it. */
  private locked:
    | { mailboxId: number; renewal: NodeJS.Timeout; renewing: Promise<void> | undefined }
    | undefined;

  constructor(socket: Socket, deps: Pop3Dependencies, options: LineSessionOptions) {
    super(socket, deps, options, 'pop3');
  }

  protected newReader(): LineReader {
    return new LineReader(this.deps.maxLineLength);
  }

  protected greet(): void {
    this.write('+OK Hermod POP3 ready\r\n');
  }

  /** RFC 1939 3: the autologout closes the connection without a response (and without UPDATE). */
  protected override idle(): void {
    this.close();
  }

  /** An internal failure (the store) or a lost lock: temporary, RFC 3206's SYS/TEMP. */
  protected goodbye(text: string): void {
    this.write(`-ERR [SYS/TEMP] ${text}\r\n`);
    this.close();
  }

  /**
   * The next raw line (SASL continuation); null when the client went away, or when the line was too
   * long (then the session has answered -ERR and ends, as for a command line).
   */
  async readLine(): Promise<string | null> {
    const line = await this.connection.next();
    if (line !== LINE_TOO_LONG) return line;
    this.tooLong();
    return null;
  }

  private tooLong(): void {
    this.write('-ERR Line too long\r\n');
    this.close();
  }

  protected async handle(line: string | typeof LINE_TOO_LONG): Promise<void> {
    if (line === LINE_TOO_LONG) return this.tooLong();
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

  /**
   * Enters TRANSACTION: takes the maildrop lock (another session, on any replica, holding it gets
   * -ERR [IN-USE]), then a snapshot of INBOX (numbers are stable for the session).
   */
  async enter(user: AuthenticatedUser): Promise<Pop3Reply> {
    if (!this.takeUserSlot(user)) {
      this.deps.refused(this.logger, 'account-limit', { code: 'IN-USE', user: user.address });
      return { ok: false, text: '[IN-USE] Too many connections for this user' };
    }
    const inbox = await this.backend.findMailbox(user.id, 'INBOX');
    if (!inbox) {
      this.releaseUserSlot();
      return { ok: false, text: '[SYS/TEMP] No INBOX' };
    }
    if (!(await this.lock(inbox.id))) {
      this.releaseUserSlot();
      this.deps.refused(this.logger, 'maildrop-locked', { code: 'IN-USE', user: user.address });
      return { ok: false, text: '[IN-USE] Maildrop already locked by another session' };
    }
    const snapshot = await this.backend.snapshot(inbox.id);
    const metas = snapshot ? await this.backend.messages(inbox.id, snapshot.uids) : [];
    // RFC 1939 11: the sizes are computed when the maildrop is opened, counting CRLF line ends.
    const sizes = await this.backend.pop3Sizes(metas, crlfSize);
    this.messages = metas.map((m) => ({ uid: m.uid, bodyId: m.bodyId, size: sizes.get(m.bodyId) ?? m.size }));
    this.mailboxId = inbox.id;
    this.uidvalidity = inbox.uidvalidity;
    this.user = user;
    this.state = Pop3State.Transaction;
    this.logger.info({ user: user.address }, 'pop3 login');
    return { ok: true, text: `Logged in, ${this.messages.length} messages` };
  }

  /** Takes the maildrop lock of mailboxId and keeps renewing it; false when another session holds it. */
  private async lock(mailboxId: number): Promise<boolean> {
    if (!(await this.backend.acquireMaildropLock(mailboxId, this.id, MAILDROP_LOCK_LEASE_MS))) return false;
    const renewal = setInterval(() => {
      const locked = this.locked;
      if (!locked || locked.renewing) return;
      locked.renewing = this.backend
        .acquireMaildropLock(mailboxId, this.id, MAILDROP_LOCK_LEASE_MS)
        .then(
          (held) => {
            // Lost (the lease ran out while PostgreSQL could not be reached, and another took it).
            if (!held && this.locked) this.goodbye('Maildrop lock lost');
          },
          (error: unknown) => this.logger.warn({ err: error }, 'pop3 maildrop lock renewal failed'),
        )
        .finally(() => {
          locked.renewing = undefined;
        });
    }, MAILDROP_LOCK_LEASE_MS / 3);
    renewal.unref();
    this.locked = { mailboxId, renewal, renewing: undefined };
    // The connection may have ended while the lock was being taken.
    if (this.connection.isClosed) await this.unlock();
    return true;
  }

  /** Releases the maildrop lock (at QUIT before the reply, or when the connection ends). */
  async unlock(): Promise<void> {
    const locked = this.locked;
    if (!locked) return;
    this.locked = undefined;
    clearInterval(locked.renewal);
    // A renewal still in flight would take the lock again after the release.
    await locked.renewing;
    await this.backend
      .releaseMaildropLock(locked.mailboxId, this.id)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'pop3 maildrop lock release failed'));
  }

  protected override ended(): void {
    void this.unlock();
  }

  shutdown(): void {
    this.goodbye('Server shutting down');
  }
}
