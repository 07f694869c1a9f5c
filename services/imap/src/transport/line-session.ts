import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '@hermod/logging';
import type { LineSessionDependencies } from '../auth/login-dependencies.js';
import type { AuthenticatedUser, MailBackend } from '../store/mail-backend.js';
import { Connection, type InputReader } from './connection.js';

export interface LineSessionOptions {
  secure: boolean;
  remoteAddress: string;
  /** The listener's release of the per-IP slot, once the session has ended. */
  onClose?: () => void;
}

/**
 * What a POP3 and a ManageSieve session share on top of the transport: the connection, the
 * per-user connection slot taken at login, STARTTLS, and the end that frees both slots. A
 * subclass reads its protocol's inputs, answers them, and says goodbye in its own words.
 */
export abstract class LineSession<T, D extends LineSessionDependencies> {
  readonly id = randomUUID();
  readonly logger: Logger;
  user: AuthenticatedUser | undefined;
  authFailures = 0;
  secure: boolean;
  protected readonly connection: Connection<T>;
  private userSlot: number | undefined;

  constructor(
    socket: Socket,
    readonly deps: D,
    private readonly options: LineSessionOptions,
    protocol: string,
  ) {
    this.secure = options.secure;
    this.logger = deps.logger.child({ sessionId: this.id, remote: options.remoteAddress, protocol });
    this.connection = new Connection(socket, {
      newReader: () => this.newReader(),
      idleTimeoutMs: () => deps.idleTimeoutMs,
      onIdle: () => this.idle(),
      onEnd: () => this.finish(),
      logger: () => this.logger,
    });
  }

  /** The protocol's reader (called again after STARTTLS). */
  protected abstract newReader(): InputReader<T>;
  /** The greeting, sent once the connection is read. */
  protected abstract greet(): void;
  /** Answers one input; the next is handed over only once this one is done. */
  protected abstract handle(input: T): Promise<void>;
  /** Tells the client the session ends (idle timeout, internal error), then closes. */
  protected abstract goodbye(text: string): void;

  get remoteAddress(): string {
    return this.options.remoteAddress;
  }

  get backend(): MailBackend {
    return this.deps.backend;
  }

  start(): void {
    this.connection.start();
    this.greet();
    void this.connection.serve(
      (input) => this.handle(input),
      (error) => {
        this.logger.error({ err: error }, 'command failed unexpectedly');
        this.goodbye('Internal error');
      },
    );
  }

  /** STARTTLS / STLS: input pipelined before it is dropped; a failed handshake ends the session. */
  async startTls(): Promise<void> {
    this.secure = true;
    await this.connection.startTls(this.deps.serverTls!);
  }

  write(data: string | Buffer): boolean {
    return this.connection.write(data);
  }

  writeAsync(data: string | Buffer): Promise<void> {
    return this.connection.writeAsync(data);
  }

  close(): void {
    this.connection.close();
  }

  /** Takes one slot of the per-user connection limit for user; false when none is free. */
  protected takeUserSlot(user: AuthenticatedUser): boolean {
    if (!this.deps.userGuard.acquire(user.id)) return false;
    this.userSlot = user.id;
    return true;
  }

  protected releaseUserSlot(): void {
    if (this.userSlot !== undefined) this.deps.userGuard.release(this.userSlot);
    this.userSlot = undefined;
  }

  /** Inactivity: by default the session says goodbye (ManageSieve's BYE) and closes. */
  protected idle(): void {
    this.goodbye('Idle timeout');
  }

  /** The connection has ended (either side): what the protocol holds beyond the slots is freed here. */
  protected ended(): void {}

  /** The connection has ended: frees the per-user slot, then the listener's. */
  private finish(): void {
    this.ended();
    this.releaseUserSlot();
    this.options.onClose?.();
  }
}
