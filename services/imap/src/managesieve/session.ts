import type { Socket } from 'node:net';
import type { ScriptOwner, SieveScripts } from '@hermod/sieve-store';
import { saslMechanisms } from '../auth/authenticate.js';
import type { LineSessionDependencies } from '../auth/login-dependencies.js';
import type { AuthenticatedUser } from '../store/mail-backend.js';
import { LineSession, type LineSessionOptions } from '../transport/line-session.js';
import { ManageSieveReader, type ReadItem, sieveString } from './command-reader.js';
import { replyForError } from './replies.js';

export const SieveState = {
  NotAuthenticated: 'not-authenticated',
  Authenticated: 'authenticated',
} as const;
export type SieveState = (typeof SieveState)[keyof typeof SieveState];

/** A response: optional data lines, then OK / NO / BYE with an optional response code and text. */
export interface SieveReply {
  status: 'OK' | 'NO' | 'BYE';
  code?: string;
  text?: string;
  /** Response data before the status line, each entry already formatted (no trailing CRLF). */
  data?: string[];
  /** Close the connection after this reply. */
  close?: boolean;
}

export interface SieveCommand {
  name: string;
  states: readonly SieveState[];
  /** Allowed argument count. */
  args: readonly [min: number, max: number];
  run(session: ManageSieveSession, args: string[]): Promise<SieveReply | undefined>;
}

export interface ManageSieveDependencies extends LineSessionDependencies {
  scripts: SieveScripts;
  commands: ReadonlyMap<string, SieveCommand>;
  maxLineLength: number;
  /** SIEVE capability: the extensions scripts may require. */
  extensions: readonly string[];
  maxRedirects: number;
  implementation: string;
}

/**
 * One ManageSieve connection (RFC 5804). The session only reads commands, checks state and argument
 * count centrally, runs the command and writes its reply; commands live one per file in commands/.
 */
export class ManageSieveSession extends LineSession<ReadItem, ManageSieveDependencies> {
  state: SieveState = SieveState.NotAuthenticated;

  constructor(socket: Socket, deps: ManageSieveDependencies, options: LineSessionOptions) {
    super(socket, deps, options, 'managesieve');
  }

  /** The authenticated account as script owner. */
  get owner(): ScriptOwner {
    const user = this.user!;
    return { id: user.id, domain: user.address.slice(user.address.lastIndexOf('@') + 1) };
  }

  protected newReader(): ManageSieveReader {
    // A PUTSCRIPT literal may be as large as the largest script (plus slack for the name).
    return new ManageSieveReader(this.deps.maxLineLength, this.deps.scripts.limits.maxScriptBytes + 1024);
  }

  protected greet(): void {
    this.writeReply(this.capabilityReply('Hermod ManageSieve ready'));
  }

  protected goodbye(text: string): void {
    this.writeReply({ status: 'BYE', text, close: true });
  }

  /** The SASL mechanisms offered: the bearer ones (OAUTHBEARER, XOAUTH2) only with an OIDC issuer. */
  mechanisms(): string[] {
    return saslMechanisms(this.deps.loginGuard);
  }

  /** The capability listing (RFC 5804 1.7), as sent in the greeting, after STARTTLS and by CAPABILITY. */
  capabilityReply(text?: string): SieveReply {
    const { deps } = this;
    const canAuth = this.secure || deps.allowPlaintextAuth;
    const data = [
      `"IMPLEMENTATION" ${sieveString(deps.implementation)}`,
      `"SASL" ${sieveString(canAuth && this.state === SieveState.NotAuthenticated ? this.mechanisms().join(' ') : '')}`,
      `"SIEVE" ${sieveString(deps.extensions.join(' '))}`,
      ...(deps.extensions.includes('enotify') ? ['"NOTIFY" "mailto"'] : []),
      `"MAXREDIRECTS" "${deps.maxRedirects}"`,
      ...(!this.secure && deps.serverTls ? ['"STARTTLS"'] : []),
      ...(this.user ? [`"OWNER" ${sieveString(this.user.address)}`] : []),
      // RFC 5804 1.7: clients send UNAUTHENTICATE (2.14) only to a server that lists it.
      '"UNAUTHENTICATE"',
      '"VERSION" "1.0"',
    ];
    return { status: 'OK', data, ...(text ? { text } : {}) };
  }

  /**
   * The client's next line as one string argument (a SASL response: a quoted string or literal);
   * null when the connection ends or the line is not a single string.
   */
  async readContinuation(): Promise<string | null> {
    const item = await this.connection.next();
    if (!item || 'error' in item) return null;
    return item.tokens.length === 1 ? item.tokens[0]! : null;
  }

  protected async handle(item: ReadItem): Promise<void> {
    if ('error' in item) {
      this.writeReply({ status: 'BYE', text: item.message, close: true });
      return;
    }
    const command = this.deps.commands.get(item.verb);
    if (!command) return this.writeReply({ status: 'NO', text: 'Unknown command' });
    if (!command.states.includes(this.state))
      return this.writeReply({ status: 'NO', text: 'Not allowed now' });
    const [min, max] = command.args;
    if (item.args.length < min || item.args.length > max)
      return this.writeReply({ status: 'NO', text: `${command.name}: wrong number of arguments` });
    let reply: SieveReply | undefined;
    try {
      reply = await command.run(this, item.args);
    } catch (error) {
      reply = replyForError(error, this.logger);
    }
    if (reply) this.writeReply(reply);
  }

  writeReply(reply: SieveReply): void {
    const lines = [...(reply.data ?? [])];
    let status: string = reply.status;
    if (reply.code) status += ` (${reply.code})`;
    if (reply.text !== undefined) status += ` ${sieveString(reply.text)}`;
    lines.push(status);
    this.write(`${lines.join('\r\n')}\r\n`);
    if (reply.close) this.close();
  }

  /** Enters the authenticated state (one slot of the per-user connection limit). */
  enter(user: AuthenticatedUser): SieveReply {
    if (!this.takeUserSlot(user)) return { status: 'NO', text: 'Too many connections for this user' };
    this.user = user;
    this.state = SieveState.Authenticated;
    this.logger.info({ user: user.address }, 'managesieve login');
    return { status: 'OK', text: 'Logged in' };
  }

  /** UNAUTHENTICATE (RFC 5804 2.14): back to the state after the greeting, TLS kept. */
  leave(): void {
    this.releaseUserSlot();
    this.user = undefined;
    this.state = SieveState.NotAuthenticated;
  }

  shutdown(): void {
    this.writeReply({ status: 'BYE', code: 'TRYLATER', text: 'Server shutting down', close: true });
  }
}
