import type { Socket } from 'node:net';
import type { LineSessionDependencies } from '../auth/login-dependencies.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';
import { LINE_TOO_LONG, LineReader } from '../transport/line-reader.js';
import { LineSession, type LineSessionOptions } from '../transport/line-session.js';

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

export interface Pop3Dependencies extends LineSessionDependencies {
  commands: ReadonlyMap<string, Pop3Command>;
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

  constructor(socket: Socket, deps: Pop3Dependencies, options: LineSessionOptions) {
    super(socket, deps, options, 'pop3');
  }

  protected newReader(): LineReader {
    return new LineReader(1024);
  }

  protected greet(): void {
    this.write('+OK Hermod POP3 ready\r\n');
  }

  protected goodbye(text: string): void {
    this.write(`-ERR ${text}\r\n`);
    this.close();
  }

  /** The next raw line (SASL continuation); null when the client went away or the line is too long. */
  async readLine(): Promise<string | null> {
    const line = await this.connection.next();
    return line === LINE_TOO_LONG ? null : line;
  }

  protected async handle(line: string | typeof LINE_TOO_LONG): Promise<void> {
    if (line === LINE_TOO_LONG) {
      this.write('-ERR Line too long\r\n');
      this.close();
      return;
    }
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
    if (!this.takeUserSlot(user)) return { ok: false, text: '[IN-USE] Too many connections for this user' };
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

  shutdown(): void {
    this.write('-ERR Server shutting down\r\n');
    this.close();
  }
}
