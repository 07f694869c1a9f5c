import type { Logger } from '@hermod/logging';
import type { CommandResult } from '../commands/command.js';
import type { AuthenticatedUser, MailBackend } from '../store/mail-backend.js';
import type { Notifier } from './notifier.js';
import type { SelectedMailbox, SelectedView } from './selected-mailbox.js';
import type { SessionDependencies } from './session.js';

type Chunk = string | Buffer;

/**
 * What a command may use of the session's dependencies. Storage goes through
 * `CommandContext.backend` (whose change events carry the session id), change feeds through
 * `login`/`followAccount`, so the raw backend, the change hub and the user slots are left out.
 */
export type CommandDependencies = Readonly<
  Pick<
    SessionDependencies,
    'limits' | 'hostname' | 'loginGuard' | 'refused' | 'serverTls' | 'allowPlaintextAuth'
  >
>;

/**
 * What an IMAP command sees of its session (ImapSession implements it; commands, the ACL helpers
 * and the NOTIFY/SEARCH helpers receive only this). Everything is read-only except through the
 * methods below, so each state transition (login, select, deselect, ENABLE, IDLE, NOTIFY) has one
 * home in the session and a command cannot reach the session's internals: assigning
 * `session.selected`, `session.state` or `session.enabled` in a command does not compile.
 */
export interface CommandContext {
  readonly id: string;
  readonly logger: Logger;
  /** The shared services and settings a command uses (not the registry, change hub or raw backend). */
  readonly deps: CommandDependencies;
  readonly remoteAddress: string;
  /** The connection is TLS (implicit or after STARTTLS). */
  readonly secure: boolean;
  readonly compressed: boolean;
  readonly isClosed: boolean;

  // --- Account and state ----------------------------------------------------------------------
  /** Set by `login`; present in every state but not-authenticated. */
  readonly user: AuthenticatedUser | undefined;
  /** Storage whose change events carry this session's id. */
  readonly backend: MailBackend;
  /** Records a login; false when the per-user connection cap is reached. */
  login(user: AuthenticatedUser): boolean;
  /** Counts a failed login attempt; returns how many this connection has had. */
  recordAuthFailure(): number;

  // --- Extensions the client enabled (RFC 5161) -------------------------------------------------
  readonly enabled: ReadonlySet<string>;
  readonly utf8: boolean;
  readonly uidOnly: boolean;
  /** Enables an extension; CONDSTORE (or QRESYNC) while a mailbox is selected reports its HIGHESTMODSEQ. */
  enable(name: string): void;
  capabilities(): string[];

  // --- The selected mailbox ---------------------------------------------------------------------
  /** The selected mailbox as a command may see and use it. */
  readonly selected: SelectedView | undefined;
  /** Makes `box` (a newly opened view) the selected mailbox; the caller deselected the old one. */
  select(box: SelectedMailbox): void;
  /** Leaves the selected mailbox (no expunge); `announce` sends OK [CLOSED]. */
  deselect(announce: boolean): void;
  /**
   * Also hears the change events of another account (the owner of a shared mailbox about to be
   * selected); undefined stops that. Released with the selection and with the session.
   */
  followAccount(ownerId: number | undefined): void;
  /** This session changed mailbox `mailboxId` (APPEND, COPY, REPLACE): the next boundary asks what. */
  mailboxChanged(mailboxId: number): void;
  /** Asks the database what changed in the selected mailbox and reports it. */
  sync(allowExpunge: boolean): Promise<void>;
  /** Removes expunged UIDs from the view, sending EXPUNGE (or VANISHED). */
  reportExpunges(uids: number[]): void;
  /** An untagged FETCH reporting a flag change. */
  reportFlagChange(
    seq: number,
    uid: number,
    flags: string[] | undefined,
    modseq: number,
    withUid: boolean,
  ): void;
  /** Announces a new FLAGS list when flags carry keywords the client has not been told of. */
  announceKeywords(flags: string[]): void;
  formatFlags(flags: string[], uid: number): string;
  /** `n FETCH`, or under UIDONLY `uid UIDFETCH`. */
  fetchHead(seq: number, uid: number): string;

  // --- IDLE and NOTIFY --------------------------------------------------------------------------
  readonly idling: boolean;
  /** A command is running. */
  readonly busy: boolean;
  /** Runs `wait` as IDLE: changes are pushed at once, and the longer inactivity timeout applies. */
  idle<T>(wait: () => Promise<T>): Promise<T>;
  readonly notifier: Notifier | undefined;
  /** NOTIFY SET puts a notifier in force (again: the owners it watches changed); undefined ends it. */
  setNotifier(notifier: Notifier | undefined): void;

  // --- Replies and the connection ---------------------------------------------------------------
  /** Untagged response line (without the '* ' and CRLF). */
  untagged(text: string): void;
  tagged(tag: string, result: CommandResult): void;
  write(data: Chunk): boolean;
  /** Writes with backpressure. */
  writeAsync(data: Chunk): Promise<void>;
  /** After a write() that answered false: resolves once the client has taken what waits. */
  drained(): Promise<void>;
  /** A continuation line (AUTHENTICATE, IDLE's DONE), or null when the client went away. */
  readLine(): Promise<string | null>;
  startTls(): Promise<void>;
  startCompression(): void;
  close(): void;
}
