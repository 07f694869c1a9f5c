import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { LoginGate } from '@hermod/accounts';
import { isTransientDatabaseError } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { MailboxChangeEvent } from '@hermod/pipeline';
import { RIGHTS_CAPABILITY } from '../acl/rights.js';
import type { LoginDependencies } from '../auth/login-dependencies.js';
import type { CommandResult, ImapCommand } from '../commands/command.js';
import { ArgumentCursor } from '../protocol/arguments.js';
import { CommandReader, type RawCommand, type ReaderEvent } from '../protocol/command-reader.js';
import { BadArgumentsError, CommandFailedError, ImapProtocolError } from '../protocol/errors.js';
import { parseCommand } from '../protocol/parser.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import type { AuthenticatedUser, MailBackend } from '../store/mail-backend.js';
import { Connection, type InputReader } from '../transport/connection.js';
import type { CommandContext } from './command-context.js';
import type { Notifier } from './notifier.js';
import { refreshContexts, removeExpunged } from './search-contexts.js';
import type { SelectedMailbox, SelectedView } from './selected-mailbox.js';
import { State } from './states.js';

export interface ImapLimits {
  maxLineLength: number;
  maxLiteralSize: number;
  appendLimit: number;
  /** METADATA (RFC 5464): longest value, and most entries per account. */
  metadataMaxSize: number;
  metadataMaxEntries: number;
  /** NOTIFY (RFC 5465): change events waiting per session before NOTIFICATIONOVERFLOW. */
  notifyMaxQueue: number;
  maxNonSyncLiteral: number;
  nestingBeforeLogin: number;
  nestingAfterLogin: number;
  idleTimeoutMs: number;
  idleCommandTimeoutMs: number;
  maxAuthFailures: number;
  maxQueuedCommands: number;
}

/**
 * The throttled login path (LoginGate of @hermod/accounts, shared with submission): lockout per
 * resolved account and per client, decided before the password check, counted across replicas.
 */
export type LoginGuard = Pick<LoginGate, 'login' | 'loginWithToken' | 'acceptsTokens'>;

/** Counts sessions per user so one account cannot hold unbounded connections. */
export interface UserConnectionGuard {
  acquire(accountId: number): boolean;
  release(accountId: number): void;
}

export interface SessionDependencies extends LoginDependencies {
  commands: ReadonlyMap<string, ImapCommand<unknown>>;
  limits: ImapLimits;
  literalMinus: boolean;
  hostname: string;
  changes: {
    add(accountId: number, listener: { onMailboxEvent(event: MailboxChangeEvent): void }): void;
    remove(accountId: number, listener: { onMailboxEvent(event: MailboxChangeEvent): void }): void;
  };
}

type Chunk = string | Buffer;

/** `tag STARTTLS`: what the client sent behind it waits for its answer (RFC 9051 6.2.1). */
function isStartTls(command: RawCommand): boolean {
  const line = command.texts[0]!;
  return command.texts.length === 1 && line.length < 80 && /^\S+ STARTTLS\s*$/i.test(line.toString('latin1'));
}

/**
 * One IMAP connection: reads commands, enforces state and argument checks centrally, runs the
 * command, then reports pending mailbox changes. Commands run one at a time in arrival order.
 */
export class ImapSession implements CommandContext {
  readonly id = randomUUID();
  /** Made on first use: most sessions never log, and a child logger is a few hundred bytes each. */
  #logger: Logger | undefined;
  // Session state: written only by this class's methods (commands see CommandContext, read-only).
  #state: State = State.NotAuthenticated;
  #user: AuthenticatedUser | undefined;
  #selected: SelectedMailbox | undefined;
  readonly #enabled = new Set<string>();
  #secure: boolean;
  #authFailures = 0;
  /** Set by change events; the next command boundary (or IDLE) asks the database what changed. */
  #dirty = false;
  /** Another session deleted the selected mailbox: the next sync ends the session (RFC 2180 3.3). */
  #selectedDeleted = false;
  #idling = false;
  /** A command is running (NOTIFY output waits for its end unless it is IDLE). */
  #busy = false;
  /** NOTIFY SET in force (RFC 5465); undefined before NOTIFY and after NOTIFY NONE. */
  #notifier: Notifier | undefined;
  /** Another account whose change events this session also hears (a selected shared mailbox). */
  #followed: number | undefined;
  /** Every other account whose events it hears: #followed and the owners NOTIFY watches. */
  #following = new Set<number>();
  /** Bytes in and out: reading, TLS, COMPRESS, backpressure, idle timer (shared with POP3, ManageSieve). */
  private readonly transport: Connection<RawCommand | ImapProtocolError>;
  private syncing: Promise<void> = Promise.resolve();
  private userSlot: number | undefined;
  private readonly closeHooks: Array<() => void> = [];

  constructor(
    socket: Socket,
    readonly deps: SessionDependencies,
    options: { secure: boolean; remoteAddress: string; onClose?: () => void },
  ) {
    this.onClose = options.onClose;
    this.#secure = options.secure;
    this.remoteAddress = options.remoteAddress;
    this.transport = new Connection(socket, {
      newReader: () => this.newReader(),
      idleTimeoutMs: () => (this.idling ? deps.limits.idleCommandTimeoutMs : deps.limits.idleTimeoutMs),
      onIdle: () => {
        this.write('* BYE Idle timeout\r\n');
        this.close();
      },
      onEnd: () => this.finish(),
      maxQueued: deps.limits.maxQueuedCommands,
      cork: true,
      logger: () => this.logger,
    });
  }

  get logger(): Logger {
    this.#logger ??= this.deps.logger.child({ sessionId: this.id, remote: this.remoteAddress });
    return this.#logger;
  }

  readonly remoteAddress: string;
  private readonly onClose: (() => void) | undefined;

  get state(): State {
    return this.#state;
  }

  get user(): AuthenticatedUser | undefined {
    return this.#user;
  }

  get selected(): SelectedView | undefined {
    return this.#selected;
  }

  get enabled(): ReadonlySet<string> {
    return this.#enabled;
  }

  get secure(): boolean {
    return this.#secure;
  }

  get idling(): boolean {
    return this.#idling;
  }

  get busy(): boolean {
    return this.#busy;
  }

  get notifier(): Notifier | undefined {
    return this.#notifier;
  }

  private sessionBackend: MailBackend | undefined;

  /** Storage whose change events carry this session's id (NOTIFY leaves its own changes out). */
  get backend(): MailBackend {
    this.sessionBackend ??= this.deps.backend.forSession(this.id);
    return this.sessionBackend;
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }

  start(): void {
    this.transport.start();
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Hermod IMAP ready\r\n`);
    void this.serve();
  }

  /** Commands off the wire; a literal's continuation request is answered as soon as it is read. */
  private newReader(): InputReader<RawCommand | ImapProtocolError> {
    const { limits } = this.deps;
    const reader = new CommandReader({
      maxLineLength: limits.maxLineLength,
      literalLimit: (line) =>
        /^\S+ (UID )?(APPEND|REPLACE) /i.test(line.subarray(0, 64).toString('latin1'))
          ? limits.appendLimit
          : limits.maxLiteralSize,
      maxNonSyncLiteral: this.deps.literalMinus
        ? Math.min(4096, limits.maxNonSyncLiteral)
        : limits.maxNonSyncLiteral,
      maxLiteralsPerCommand: 1000,
      holdAfter: isStartTls,
    });
    const inputsOf = (events: ReaderEvent[]) => {
      const inputs: Array<RawCommand | ImapProtocolError> = [];
      for (const event of events) {
        if (event.type === 'continue') this.write('+ Ready for literal data\r\n');
        else inputs.push(event.type === 'command' ? event.command : event.error);
      }
      return inputs;
    };
    return { push: (data) => inputsOf(reader.push(data)), release: () => inputsOf(reader.release()) };
  }

  /** The next command or continuation line from the client; null once the connection is gone. */
  nextInput(): Promise<RawCommand | ImapProtocolError | null> {
    // The client answers what it has been sent (a continuation request): send it first.
    this.transport.flush();
    return this.transport.next();
  }

  /** A continuation line (AUTHENTICATE, IDLE's DONE) as text, or null when the client went away. */
  async readLine(): Promise<string | null> {
    const input = await this.nextInput();
    if (input === null) return null;
    if (input instanceof ImapProtocolError) throw input;
    return input.texts.map((t) => t.toString('utf8')).join('');
  }

  private serve(): Promise<void> {
    return this.transport.serve(
      async (input) => {
        try {
          // Notifications being sent between commands are finished before the next command starts.
          await this.notifier?.flush();
          this.#busy = true;
          // One write for the whole command (its untagged responses and the tagged one).
          this.transport.hold();
          await this.handle(input);
        } finally {
          // After a refused STARTTLS the reader still holds what followed it (after a started one
          // the reader is a new one).
          this.transport.resumeInput();
          this.transport.release();
          this.#busy = false;
          // What arrived after the command's last notifications (or during a refused command) goes now.
          if (this.notifier?.pending) void this.notifier.flush();
        }
      },
      (error) => {
        this.logger.error({ err: error }, 'command failed unexpectedly');
        this.write('* BYE Internal server error\r\n');
        this.close();
      },
    );
  }

  private async handle(input: RawCommand | ImapProtocolError): Promise<void> {
    if (input instanceof ImapProtocolError) {
      await this.protocolError(input);
      return;
    }
    let parsed: ReturnType<typeof parseCommand>;
    try {
      const nesting =
        this.state === State.NotAuthenticated
          ? this.deps.limits.nestingBeforeLogin
          : this.deps.limits.nestingAfterLogin;
      parsed = parseCommand(input, nesting);
    } catch (error) {
      if (error instanceof ImapProtocolError) return this.protocolError(error);
      throw error;
    }
    let name = parsed.name;
    let args = parsed.args;
    if (name === 'UID') {
      const sub = args[0];
      if (sub?.type !== 'atom')
        return this.tagged(parsed.tag, { status: 'BAD', text: 'UID needs a command' });
      name = `UID ${sub.value.toUpperCase()}`;
      args = args.slice(1);
    }
    const command = this.deps.commands.get(name);
    if (!command) return this.tagged(parsed.tag, { status: 'BAD', text: 'Unknown command' });
    if (!command.states.includes(this.state)) {
      return this.tagged(parsed.tag, { status: 'BAD', text: `${name} is not allowed ${this.stateText()}` });
    }
    let result: CommandResult;
    try {
      const parsedArgs = command.parse(new ArgumentCursor(args), this);
      const sequenceNumbers =
        typeof command.usesSequenceNumbers === 'function'
          ? command.usesSequenceNumbers(parsedArgs)
          : command.usesSequenceNumbers === true;
      if (sequenceNumbers && this.enabled.has('UIDONLY'))
        return this.tagged(parsed.tag, {
          status: 'BAD',
          code: 'UIDREQUIRED',
          text: 'Message sequence numbers are not used once UIDONLY is enabled',
        });
      result = await command.run(this, parsedArgs, parsed.tag);
    } catch (error) {
      if (error instanceof BadArgumentsError) result = { status: 'BAD', text: error.message };
      else if (error instanceof CommandFailedError)
        result = {
          status: 'NO',
          text: error.message,
          ...(error.responseCode ? { code: error.responseCode } : {}),
        };
      else if (isTransientDatabaseError(error)) {
        // RFC 9051 7.1 UNAVAILABLE: the store is down, not the session and not the user's password
        // (a LOGIN must not read as wrong credentials, nor count against the login throttle).
        this.logger.warn({ err: error, command: name }, 'mail store unavailable');
        this.deps.refused(this.logger, 'storage-unavailable', { code: 'UNAVAILABLE' });
        result = {
          status: 'NO',
          code: 'UNAVAILABLE',
          text: 'Mail storage is temporarily unavailable, try again later',
        };
      } else throw error;
    }
    if (this.closed) return;
    if (this.#selected && (this.#dirty || name === 'NOOP' || name === 'CHECK'))
      await this.sync(command.allowsExpunge !== false);
    if (this.closed) return;
    if (this.#selected && this.#selected.contexts.size > 0) await refreshContexts(this, this.#selected);
    await this.notifier?.flush();
    if (!result.silent) this.tagged(parsed.tag, result);
  }

  private async protocolError(error: ImapProtocolError): Promise<void> {
    this.logger.info({ code: error.code }, error.message);
    if (error.fatal) {
      this.write(`* BYE ${error.message}\r\n`);
      this.close();
      return;
    }
    const code = error.code === 'LITERAL_TOO_LARGE' ? '[TOOBIG] ' : '';
    if (error.tag)
      this.write(
        `${error.tag} ${error.code === 'LITERAL_TOO_LARGE' ? 'NO' : 'BAD'} ${code}${error.message}\r\n`,
      );
    else this.write(`* BAD ${error.message}\r\n`);
  }

  private stateText(): string {
    return this.state === State.NotAuthenticated
      ? 'before login'
      : this.state === State.Authenticated
        ? 'without a selected mailbox'
        : 'now';
  }

  tagged(tag: string, result: CommandResult): void {
    this.write(`${tag} ${result.status} ${result.code ? `[${result.code}] ` : ''}${result.text}\r\n`);
    // Inactivity counts from the end of the last command too: a slow command is not idle time.
    if (!this.closed) this.armIdleTimer();
  }

  /** Untagged response line (without the '* ' and CRLF). */
  untagged(text: string): void {
    this.write(`* ${text}\r\n`);
  }

  write(data: Chunk): boolean {
    return this.transport.write(data);
  }

  get compressed(): boolean {
    return this.transport.compressed;
  }

  /** COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw deflate streams. */
  startCompression(): void {
    this.transport.startCompression();
  }

  /** Writes with backpressure: waits for the socket to drain before the caller sends more. */
  writeAsync(data: Chunk): Promise<void> {
    return this.transport.writeAsync(data);
  }

  drained(): Promise<void> {
    return this.transport.drained();
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2'];
    const canAuth = this.secure || this.deps.allowPlaintextAuth;
    if (this.state === State.NotAuthenticated) {
      if (!this.secure && this.deps.serverTls) caps.push('STARTTLS');
      // LOGINDISABLED only where LOGIN is refused (RFC 9051 §6.2.3), never next to AUTH=PLAIN.
      if (!canAuth) caps.push('LOGINDISABLED');
      else {
        caps.push('AUTH=PLAIN', 'AUTH=LOGIN', 'SASL-IR');
        if (this.deps.loginGuard.acceptsTokens) caps.push('AUTH=OAUTHBEARER', 'AUTH=XOAUTH2');
      }
    }
    // Only extensions whose every part is implemented are listed (see docs/imap.md).
    caps.push(
      this.deps.literalMinus ? 'LITERAL-' : 'LITERAL+',
      'ID',
      'ENABLE',
      'IDLE',
      'NAMESPACE',
      'UNSELECT',
      'UIDPLUS',
      'MOVE',
      'CHILDREN',
      'SPECIAL-USE',
      'ESEARCH',
      'SEARCHRES',
      'CONDSTORE',
      'QRESYNC',
      'CREATE-SPECIAL-USE',
      'STATUS=SIZE',
      'QUOTA',
      'QUOTA=RES-STORAGE',
      'BINARY',
      'LIST-EXTENDED',
      'LIST-STATUS',
      'UTF8=ACCEPT',
      'MULTIAPPEND',
      'CATENATE',
      'REPLACE',
      'COMPRESS=DEFLATE',
      'SORT',
      'ESORT',
      'CONTEXT=SEARCH',
      'CONTEXT=SORT',
      'THREAD=ORDEREDSUBJECT',
      'THREAD=REFERENCES',
      'SORT=DISPLAY',
      'WITHIN',
      'SAVEDATE',
      'OBJECTID',
      'PREVIEW',
      'UIDONLY',
      'METADATA',
      'METADATA-SERVER',
      'ACL',
      RIGHTS_CAPABILITY,
      'NOTIFY',
      `APPENDLIMIT=${this.deps.limits.appendLimit}`,
    );
    return caps;
  }

  /** STARTTLS: drop anything the client pipelined in plaintext, then speak TLS on the same socket. */
  async startTls(): Promise<void> {
    const tls = this.deps.serverTls;
    if (!tls) throw new CommandFailedError('TLS is not configured');
    this.#secure = true;
    await this.transport.startTls(tls);
  }

  /** Records a login; false when the per-user connection cap is reached. */
  login(user: AuthenticatedUser): boolean {
    if (!this.deps.userGuard.acquire(user.id)) return false;
    this.userSlot = user.id;
    this.#user = user;
    this.#state = State.Authenticated;
    this.deps.changes.add(user.id, this);
    // The session's ids on the line without keeping a child logger for the session's life.
    this.deps.logger.info(
      { sessionId: this.id, remote: this.remoteAddress, user: user.address },
      'logged in',
    );
    return true;
  }

  /** Counts a failed login attempt; returns how many this connection has had. */
  recordAuthFailure(): number {
    return ++this.#authFailures;
  }

  /** Makes `box` the selected mailbox; the caller left the previous one (deselect) first. */
  select(box: SelectedMailbox): void {
    this.#selected = box;
    this.#state = State.Selected;
    this.#dirty = false;
    this.#selectedDeleted = false;
  }

  /** Leaves the selected mailbox (no expunge); [CLOSED] tells the client the old one is gone. */
  deselect(announce: boolean): void {
    if (!this.#selected) return;
    this.followAccount(undefined);
    this.#selected = undefined;
    this.#state = State.Authenticated;
    if (announce) this.untagged('OK [CLOSED] Previous mailbox closed');
  }

  /**
   * Before a shared mailbox is opened (so no change made meanwhile is missed): the session also
   * hears its owner's change events (the cross-session change feed is per owner account).
   */
  followAccount(ownerId: number | undefined): void {
    if (this.#followed === ownerId && (ownerId !== undefined || this.#following.size === 0)) return;
    this.#followed = ownerId;
    this.refreshFollowing();
  }

  /** Hears exactly the other accounts the selected mailbox and NOTIFY need (one home for both). */
  private refreshFollowing(): void {
    const wanted = new Set(this.#notifier?.watchedOwners ?? []);
    if (this.#followed !== undefined) wanted.add(this.#followed);
    if (this.#user) wanted.delete(this.#user.id);
    if (this.#state === State.Logout) wanted.clear();
    for (const id of this.#following) if (!wanted.has(id)) this.deps.changes.remove(id, this);
    for (const id of wanted) if (!this.#following.has(id)) this.deps.changes.add(id, this);
    this.#following = wanted;
  }

  /** This session changed a mailbox itself: when it is the selected one, the next boundary syncs. */
  mailboxChanged(mailboxId: number): void {
    if (this.#selected?.id === mailboxId) this.#dirty = true;
  }

  /** Enables an extension (RFC 5161); the caller checked it may be. */
  enable(name: string): void {
    // ENABLE CONDSTORE (or QRESYNC) while a mailbox is selected reports its HIGHESTMODSEQ.
    if (name === 'CONDSTORE' || name === 'QRESYNC') this.enableCondstore();
    this.#enabled.add(name);
  }

  /** IDLE (RFC 2177): while `wait` runs, changes are pushed at once and the longer timeout applies. */
  async idle<T>(wait: () => Promise<T>): Promise<T> {
    this.#idling = true;
    this.touch();
    // Changes during IDLE go out as they are reported, not at the command's end.
    this.transport.release();
    try {
      return await wait();
    } finally {
      this.#idling = false;
      this.touch();
    }
  }

  /** NOTIFY SET puts a notifier in force; undefined (NOTIFY NONE, overflow) ends it. */
  setNotifier(notifier: Notifier | undefined): void {
    this.#notifier = notifier;
    this.refreshFollowing();
  }

  /** Called by the change hub for every event of this session's account. */
  onMailboxEvent(event: MailboxChangeEvent): void {
    this.notifier?.onEvent(event);
    if (!this.#selected || event.mailboxId !== this.#selected.id) return;
    if (event.kind === 'mailboxes' && event.deleted) this.#selectedDeleted = true;
    if (
      event.modseq !== 0 &&
      (event.modseq <= this.#selected.knownModseq || this.#selected.ownModseqs.has(event.modseq))
    )
      return;
    this.#dirty = true;
    // Under NOTIFY, IDLE reports exactly what NOTIFY asked for (RFC 5465 section 4): the notifier's;
    // the end of the session, when its mailbox is deleted, is told in any case.
    if (this.idling && (!this.notifier || this.#selectedDeleted)) void this.sync(true);
  }

  /** Asks the database what changed and reports it (EXPUNGE only when allowed). */
  sync(allowExpunge: boolean): Promise<void> {
    this.syncing = this.syncing
      .then(() => this.doSync(allowExpunge))
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'mailbox sync failed');
      });
    return this.syncing;
  }

  private async doSync(allowExpunge: boolean): Promise<void> {
    const box = this.#selected;
    if (!box || this.closed) return;
    if (this.#selectedDeleted) {
      // Its view cannot be told of the deletion any other way (RFC 2180 section 3.3; as Dovecot).
      this.write('* BYE Selected mailbox was deleted, have to disconnect\r\n');
      this.close();
      return;
    }
    this.#dirty = false;
    // One round trip: the changes and, for a read-write view with new messages, the \Recent claim.
    const { changes, recentFrom } = await this.backend.syncChanges(
      box.id,
      box.knownModseq,
      box.readOnly ? undefined : box.maxUid,
    );
    if (this.#selected !== box) return;
    const { added, flags } = box.absorb(changes);
    if (recentFrom !== undefined) for (const uid of added) if (uid >= recentFrom) box.recent.add(uid);
    if (allowExpunge && box.pendingExpunges.size > 0) this.reportExpunges([...box.pendingExpunges]);
    if (added.length > 0) {
      this.untagged(`${box.exists} EXISTS`);
      if (!this.enabled.has('IMAP4REV2')) this.untagged(`${box.recent.size} RECENT`);
    }
    for (const [uid, change] of flags) {
      const seq = box.seqOf(uid);
      if (seq === 0 || box.pendingExpunges.has(uid)) continue;
      this.reportFlagChange(seq, uid, change.flags, change.modseq, true);
    }
    // During IDLE nothing else reports what entered or left the live search results.
    if (this.#idling && box.contexts.size > 0) await refreshContexts(this, box);
  }

  /**
   * An untagged FETCH reporting a flag change (STORE, another session's change): FLAGS unless
   * silent, and once CONDSTORE is enabled always UID and MODSEQ (RFC 7162 3.1, RFC 5162 erratum 1807).
   */
  reportFlagChange(
    seq: number,
    uid: number,
    flags: string[] | undefined,
    modseq: number,
    withUid: boolean,
  ): void {
    const condstore = this.enabled.has('CONDSTORE');
    const parts: string[] = [];
    if ((withUid || condstore) && !this.uidOnly) parts.push(`UID ${uid}`);
    if (flags) parts.push(`FLAGS ${this.formatFlags(flags, uid)}`);
    if (condstore) parts.push(`MODSEQ (${modseq})`);
    if (parts.length > 0) this.untagged(`${this.fetchHead(seq, uid)} (${parts.join(' ')})`);
  }

  /** UIDONLY (RFC 9586) is enabled: no message sequence numbers in either direction. */
  get uidOnly(): boolean {
    return this.enabled.has('UIDONLY');
  }

  /** `n FETCH`, or under UIDONLY `uid UIDFETCH` (RFC 9586 section 3.3), without the '* '. */
  fetchHead(seq: number, uid: number): string {
    return this.uidOnly ? `${uid} UIDFETCH` : `${seq} FETCH`;
  }

  /**
   * A CONDSTORE-enabling command (RFC 7162 3.1): the first one while a mailbox is selected tells the
   * client the mailbox's HIGHESTMODSEQ, which it could not have asked for before.
   */
  private enableCondstore(): void {
    if (this.enabled.has('CONDSTORE')) return;
    this.#enabled.add('CONDSTORE');
    if (this.#selected) this.untagged(`OK [HIGHESTMODSEQ ${this.#selected.knownModseq}] Highest`);
  }

  /** Removes expunged UIDs from the view, sending EXPUNGE (or VANISHED under QRESYNC). */
  reportExpunges(uids: number[]): void {
    const box = this.#selected;
    if (!box) return;
    const sorted = [...uids].sort((a, b) => a - b);
    // Live search results lose the messages first, while their numbers are still valid.
    removeExpunged(this, box, sorted);
    // UIDONLY has no sequence numbers to expunge: VANISHED as under QRESYNC (RFC 9586 section 3.4).
    if (this.enabled.has('QRESYNC') || this.uidOnly) {
      const gone = sorted.filter((uid) => box.removeUid(uid) > 0);
      if (gone.length > 0) this.untagged(`VANISHED ${formatSequenceSet(gone)}`);
      return;
    }
    // Highest first, so each number is still valid when the client reads it.
    for (const uid of sorted.reverse()) {
      const seq = box.removeUid(uid);
      if (seq > 0) this.untagged(`${seq} EXPUNGE`);
    }
  }

  /** Announces a new FLAGS list when flags carry keywords the client has not been told of. */
  announceKeywords(flags: string[]): void {
    const box = this.#selected;
    if (!box) return;
    const fresh = flags.filter((f) => !f.startsWith('\\') && !box.keywords.has(f));
    if (fresh.length === 0) return;
    for (const f of fresh) box.keywords.add(f);
    this.untagged(`FLAGS (${box.flagsList()})`);
    this.untagged(`OK [PERMANENTFLAGS (${box.permanentFlagsList()})] Flags permitted`);
  }

  formatFlags(flags: string[], uid: number): string {
    this.announceKeywords(flags);
    const all =
      this.#selected?.recent.has(uid) && !this.enabled.has('IMAP4REV2') ? [...flags, '\\Recent'] : flags;
    return `(${all.join(' ')})`;
  }

  private armIdleTimer(): void {
    this.transport.touch();
  }

  /** Re-arms the inactivity timer (IDLE switches to the longer timeout). */
  touch(): void {
    this.armIdleTimer();
  }

  /** Server shutdown: say goodbye, then close. */
  shutdown(): void {
    this.write('* BYE Server shutting down\r\n');
    this.close();
  }

  close(): void {
    this.transport.close();
  }

  /** The connection has ended (either side): frees the per-user slot and the listener's. */
  private finish(): void {
    this.#state = State.Logout;
    if (this.userSlot !== undefined) {
      this.deps.userGuard.release(this.userSlot);
      this.deps.changes.remove(this.userSlot, this);
    }
    this.followAccount(undefined);
    this.userSlot = undefined;
    for (const hook of this.closeHooks.splice(0)) hook();
    this.onClose?.();
  }

  /** Runs when the session ends (extensions release what they hold for it). */
  onClosed(hook: () => void): void {
    this.closeHooks.push(hook);
  }

  private get closed(): boolean {
    return this.transport.isClosed;
  }

  get isClosed(): boolean {
    return this.transport.isClosed;
  }
}
