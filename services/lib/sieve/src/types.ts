/** Public types of @hermod/sieve. */

import type { ParsedMessage } from './runtime.js';

/** A compile or runtime error; line and column are 1-based (0 when not tied to a position). */
export interface SieveError {
  line: number;
  column: number;
  message: string;
}

export interface CompileOptions {
  /** Largest accepted script source, in bytes (default 1 MiB). */
  maxScriptBytes?: number;
  /** Deepest accepted nesting of blocks and tests (default 32). */
  maxNesting?: number;
  /**
   * Source of a script named by `include`; `undefined` when it does not exist. Includes are resolved and
   * compiled at compile time (the compiled form embeds them), so a change to an included script needs a
   * recompile of the including script. Without a resolver every non-optional include is a compile error.
   */
  includeResolver?: (name: string, location: 'personal' | 'global') => string | undefined;
  /** Deepest include chain (default 10) and most distinct included scripts (default 255). */
  maxIncludeDepth?: number;
  maxIncludes?: number;
  /** Extensions allowed in `require` (default SIEVE_EXTENSIONS). */
  extensions?: readonly string[];
  /** Largest header field value addheader may add, in bytes (default 2048, as at run time). */
  maxHeaderBytes?: number;
  /** Most notify actions per run (default 10, as at run time); 0 refuses notify at compile time. */
  maxNotifications?: number;
}

/** The compiled form of a script: opaque to callers; store it with serializeCompiled. */
export interface CompiledScript {
  readonly format: 'hermod-sieve/1';
  /**
   * What the script can read (SCRIPT_INPUTS bits, see inputs.ts), so that a delivery reads only that;
   * absent in forms compiled before it existed, which count as reading everything (compiledInputs).
   */
  readonly inputs?: number;
  readonly requires: string[];
  /** Internal tree; not part of the public contract. */
  readonly body: unknown;
  readonly includes: Record<string, unknown>;
}

export type CompileResult =
  | { ok: true; script: CompiledScript; requires: string[]; warnings: SieveError[] }
  | { ok: false; errors: SieveError[] };

/** The message under evaluation. */
export interface SieveMessage {
  /**
   * The message as received (headers and body, CRLF or LF line ends); the header section alone (up to
   * and with the blank line) is enough for a script whose inputs (compiledInputs) do not include
   * SCRIPT_INPUTS.message.
   */
  raw: Buffer;
  /** The whole message's size in bytes (the size test) when raw holds only its header; default raw's length. */
  size?: number;
  /**
   * The parse of `raw` (`new ParsedMessage(raw)`), for a host that runs the scripts of several
   * recipients of one message: given to each run, the message is parsed once for all of them.
   */
  parsed?: ParsedMessage;
  /** Envelope (RFC 5321) sender; '' for the null sender `<>`. */
  envelopeFrom: string;
  /** Envelope recipient this evaluation is for (the final, possibly subaddressed, address). */
  envelopeTo: string;
  /** Original recipient before rewriting (envelope "orig"), defaults to envelopeTo. */
  originalRecipient?: string;
  /** Authenticated submitter, if any (envelope "auth"). */
  auth?: string;
}

/** Tracks what `duplicate` has seen; ids are already hashed, opaque strings. */
export interface DuplicateTracker {
  /** Whether the id was recorded and has not expired. */
  seen(id: string): boolean | Promise<boolean>;
}

export interface SieveEnvironment {
  now: Date;
  /** The recipient's domain (environment "domain"). */
  domain: string;
  /** Subaddress separator characters of the domain (RFC 5233), e.g. '+' or '+-' (any of them separates). */
  subaddressSeparator: string;
  /** Host name of the server (environment "host"), default the domain. */
  host?: string;
  /** Spam score on the 0..10 scale of RFC 5235 (from Rspamd), undefined when the message was not tested. */
  spamScore?: number;
  /** Spam percentage 0..100 for spamtestplus :percent; derived from spamScore when absent. */
  spamPercent?: number;
  /** Virus test result 0..5 of RFC 5235; undefined when not tested. */
  virusScore?: number;
  /** Whether a mailbox exists (mailbox extension); default: only INBOX exists. */
  mailboxExists?: (name: string) => boolean | Promise<boolean>;
  /** Mailbox name for a mailbox id (mailboxid extension), undefined when unknown. */
  mailboxById?: (id: string) => string | undefined | Promise<string | undefined>;
  /** Whether a mailbox (or, with name undefined, any mailbox) carries all these special-use flags. */
  specialUseExists?: (name: string | undefined, flags: string[]) => boolean | Promise<boolean>;
  duplicateTracker?: DuplicateTracker;
  /** Extra environment items (RFC 5183), e.g. { 'phase': 'during' }. */
  environment?: Record<string, string>;
  /** CPU time budget for the whole run, in milliseconds (default 100). */
  timeBudgetMs?: number;
  /** Most actions a run may produce (default 32). */
  maxActions?: number;
  /** Most redirects a run may produce (default 4). */
  maxRedirects?: number;
  /** vacation: also count the original recipient (before alias expansion) as the user's address (default false). */
  vacationUseOriginalRecipient?: boolean;
  /** vacation: reply even when none of the user's addresses is in To/Cc/Bcc (default false). */
  vacationDontCheckRecipient?: boolean;
  /** vacation: the user's further addresses (the account's address and aliases; RFC 5230 4.5). */
  userAddresses?: readonly string[];
  /** vacation: shortest period between replies to one sender, in seconds (default 0; :days is at least 1 day). */
  vacationMinSeconds?: number;
  /** vacation: longest period between replies to one sender, in seconds (default 60 days). */
  vacationMaxSeconds?: number;
  /** Largest value a variable holds, in bytes (default 4000; longer values are cut). */
  maxVariableBytes?: number;
  /** Largest header field value editheader may add, in bytes (default 2048). */
  maxHeaderBytes?: number;
  /**
   * Header fields (lower case) editheader may not add, and may not delete: an attempt leaves the message
   * as it is. Received and Auto-Submitted are never deleted in any case; Subject cannot be protected
   * (RFC 5293 section 7).
   */
  editheaderForbidAdd?: readonly string[];
  editheaderForbidDelete?: readonly string[];
  /** Most notify actions per run (default 10); 0 prohibits notify. */
  maxNotifications?: number;
}

/**
 * An action to perform. keep, fileinto and redirect carry `message` when editheader had changed the message
 * by the time the action was taken (each action delivers the message as it was then).
 */
export type SieveAction =
  | { kind: 'keep'; flags: string[]; message?: Buffer }
  | {
      kind: 'fileinto';
      mailbox: string;
      create: boolean;
      flags: string[];
      copy: boolean;
      specialUse?: string;
      mailboxId?: string;
      message?: Buffer;
    }
  | { kind: 'discard' }
  | { kind: 'redirect'; address: string; copy: boolean; message?: Buffer }
  | { kind: 'reject'; reason: string; extended: boolean }
  | {
      kind: 'vacation';
      from?: string;
      subject?: string;
      reason: string;
      mime: boolean;
      /** Minimum interval between replies to one sender, in seconds (:days * 86400 or :seconds). */
      seconds: number;
      /** Distinguishes this vacation from others for response tracking. */
      handle: string;
      addresses: string[];
    }
  | {
      kind: 'notify';
      method: string;
      from?: string;
      importance?: string;
      message?: string;
      options: string[];
    };

export interface SieveResult {
  /**
   * Actions to perform, in order; includes the implicit keep when no action cancelled it. When `errors` is
   * not empty the run failed: `actions` is then the actions of the scripts of the sequence that finished
   * before the failing one (none for a single script) and a keep (the fallback).
   */
  actions: SieveAction[];
  /** The message after editheader changes; absent when no header was edited. */
  modifiedMessage?: Buffer;
  /** Ids the `duplicate` test checked that the caller records once delivery succeeded, with their lifetime. */
  duplicates: { id: string; seconds: number }[];
  /** Runtime errors; non-empty means the caller falls back to keep and logs them. */
  errors: SieveError[];
  /** Errors that did not stop the run (an invalid regular expression built at run time), to log. */
  notices?: SieveError[];
}
