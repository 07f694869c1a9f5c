import type { MailboxChange } from '@hermod/mail-store';
import type { FetchItem } from '../commands/fetch.js';
import { inSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';

/** The system flags every mailbox keeps (keywords follow them in FLAGS and PERMANENTFLAGS). */
export const PERMANENT_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

/**
 * A live search or sort result (RFC 5267 UPDATE): the UIDs in result order as last reported, and
 * how to compute them again (the command that made the context supplies it).
 */
export interface SearchContext {
  byUid: boolean;
  /** SORT contexts report positions; SEARCH contexts are in mailbox order (position 0). */
  sorted: boolean;
  uids: number[];
  version: number;
  evaluate(): Promise<number[]>;
  /** RETURN (UPDATE (fetch-att ...)): FETCH messages new to the mailbox as they enter (RFC 5465 7). */
  fetch?: FetchItem[];
  /** The highest UID when the context was last evaluated (what is above it is new mail). */
  maxUid?: number;
}

/**
 * What a command sees of the selected mailbox (CommandContext.selected): read-only state and the
 * few explicit operations a command performs on it. Expunges, flag changes and new messages are
 * applied by the session (sync, reportExpunges), never by a command.
 */
export interface SelectedView {
  readonly id: number;
  readonly name: string;
  readonly readOnly: boolean;
  readonly uidvalidity: number;
  /** Ascending UIDs; index + 1 is the message sequence number. */
  readonly uids: readonly number[];
  readonly knownModseq: number;
  /** Expunged elsewhere, not yet reported. */
  readonly pendingExpunges: ReadonlySet<number>;
  readonly recent: ReadonlySet<number>;
  /** Keywords announced in the last FLAGS response. */
  readonly keywords: ReadonlySet<string>;
  /** SEARCHRES ($): UIDs of the last SEARCH ... RETURN (SAVE). */
  readonly savedSearch: readonly number[];
  /** SEARCH/SORT RETURN (UPDATE) contexts by tag. */
  readonly contexts: ReadonlyMap<string, Readonly<SearchContext>>;
  readonly version: number;
  readonly selectedMaxUid: number;
  readonly exists: number;
  readonly maxUid: number;
  seqOf(uid: number): number;
  resolve(set: SequenceSet | '$', byUid: boolean): number[];
  sequenceOutOfRange(set: SequenceSet | '$'): boolean;
  /** A change this session made itself (already reported to its client). */
  ownChange(modseq: number): void;
  /** SEARCH ... RETURN (SAVE): the result `$` refers to from now on. */
  saveSearch(uids: number[]): void;
  /** The flags the session may change now (rights changed); whether PERMANENTFLAGS changed. */
  changePermanent(permanent: 'all' | string[] | undefined): boolean;
  permanentFlagsList(): string;
  /** Keeps a RETURN (UPDATE) context under the command's tag (RFC 5267). */
  keepContext(tag: string, context: Omit<SearchContext, 'version' | 'maxUid'>): void;
  /** CANCELUPDATE: forgets the contexts of these tags. */
  cancelContexts(tags: readonly string[]): void;
}

/**
 * What one session believes about its selected mailbox: the UID list behind its sequence numbers
 * and the modseq it has caught up to. Changes are applied only when the session may report them.
 */
export class SelectedMailbox implements SelectedView {
  /** Ascending UIDs; index + 1 is the message sequence number. */
  uids: number[];
  knownModseq: number;
  /** Modseqs this session produced itself (already reported to its client). */
  readonly ownModseqs = new Set<number>();
  /** Expunged elsewhere, not yet reported (EXPUNGE is not allowed during FETCH/STORE/SEARCH). */
  readonly pendingExpunges = new Set<number>();
  readonly recent = new Set<number>();
  /** Keywords announced in the last FLAGS response. */
  readonly keywords = new Set<string>();
  /** The flags this session may change (see permanentFlagsList). */
  private permanent: 'all' | string[] | undefined;
  /** SEARCHRES ($): UIDs of the last SEARCH ... RETURN (SAVE). */
  savedSearch: number[] = [];
  /** SEARCH/SORT RETURN (UPDATE) contexts by the tag of the command that made them (RFC 5267). */
  readonly contexts = new Map<string, SearchContext>();
  /** Counts changes seen or made, so contexts are evaluated again only when something changed. */
  version = 0;
  /** The highest UID when the mailbox was selected (NOTIFY MessageNew fetches what came after it). */
  readonly selectedMaxUid: number;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly readOnly: boolean,
    readonly uidvalidity: number,
    uids: number[],
    knownModseq: number,
    /**
     * UIDs from this one on are \Recent in this session; the keywords the mailbox uses; the flags
     * the session may change (permanentFlagsFor of its rights: 'all' for an own mailbox).
     */
    opening: {
      recentFrom: number;
      keywords: Iterable<string>;
      permanent?: 'all' | string[] | undefined;
    } = { recentFrom: Infinity, keywords: [] },
  ) {
    this.permanent = 'permanent' in opening ? opening.permanent : 'all';
    this.uids = uids;
    this.knownModseq = knownModseq;
    this.selectedMaxUid = uids[uids.length - 1] ?? 0;
    for (const uid of uids) if (uid >= opening.recentFrom) this.recent.add(uid);
    for (const keyword of opening.keywords) this.keywords.add(keyword);
  }

  /** The FLAGS response list: the system flags, then the mailbox's keywords. */
  flagsList(): string {
    return `${PERMANENT_FLAGS}${[...this.keywords].map((k) => ` ${k}`).join('')}`;
  }

  /**
   * The PERMANENTFLAGS list (RFC 9051 7.1) narrowed to the session's rights (RFC 4314 section 4):
   * empty when read-only; with w the keywords and \* follow the system flags it may set. The one
   * rule for SELECT and for the PERMANENTFLAGS sent again when a new keyword appears.
   */
  permanentFlagsList(): string {
    if (this.readOnly || this.permanent === undefined) return '';
    if (this.permanent === 'all') return `${this.flagsList()} \\*`;
    return this.permanent.flatMap((f) => (f === '\\*' ? [...this.keywords, f] : [f])).join(' ');
  }

  changePermanent(permanent: 'all' | string[] | undefined): boolean {
    const before = this.permanentFlagsList();
    this.permanent = permanent;
    return this.permanentFlagsList() !== before;
  }

  saveSearch(uids: number[]): void {
    this.savedSearch = uids;
  }

  keepContext(tag: string, context: Omit<SearchContext, 'version' | 'maxUid'>): void {
    this.contexts.set(tag, { ...context, version: this.version, maxUid: this.maxUid });
  }

  cancelContexts(tags: readonly string[]): void {
    for (const tag of tags) this.contexts.delete(tag);
  }

  get exists(): number {
    return this.uids.length;
  }

  get maxUid(): number {
    return this.uids[this.uids.length - 1] ?? 0;
  }

  /** Sequence number (1-based) of a UID, or 0. Binary search: UIDs are ascending. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** UIDs a sequence set names, in ascending order. */
  resolve(set: SequenceSet | '$', byUid: boolean): number[] {
    if (set === '$') return this.savedSearch.filter((uid) => this.seqOf(uid) > 0);
    if (byUid) {
      const max = this.maxUid;
      return this.uids.filter((uid) => inSequenceSet(set, uid, max));
    }
    const max = this.uids.length;
    const out: number[] = [];
    for (const [a, b] of set) {
      const lo = a === '*' ? max : a;
      const hi = b === '*' ? max : b;
      for (let s = Math.min(lo, hi); s <= Math.min(Math.max(lo, hi), max); s++) out.push(this.uids[s - 1]!);
    }
    return [...new Set(out)].sort((x, y) => x - y);
  }

  /** Whether a non-UID sequence set names a message that does not exist (BAD per RFC 9051). */
  sequenceOutOfRange(set: SequenceSet | '$'): boolean {
    if (set === '$') return false;
    // An empty mailbox has no sequence numbers: even '*' names no message (RFC 9051 9, seq-number;
    // Dovecot answers BAD as well). UID sets are not checked here: '1:*' of UIDs names nothing.
    if (this.uids.length === 0) return true;
    return set.some(([a, b]) => (a !== '*' && a > this.uids.length) || (b !== '*' && b > this.uids.length));
  }

  /** A change this session made itself (already reported to its client). */
  ownChange(modseq: number): void {
    this.ownModseqs.add(modseq);
    this.version++;
  }

  removeUid(uid: number): number {
    this.version++;
    const seq = this.seqOf(uid);
    if (seq > 0) this.uids.splice(seq - 1, 1);
    this.recent.delete(uid);
    this.pendingExpunges.delete(uid);
    return seq;
  }

  /** Sorts a batch of changes into what the session must report. */
  absorb(changes: MailboxChange[]): {
    added: number[];
    flags: Map<number, { flags: string[]; modseq: number }>;
  } {
    const added: number[] = [];
    const flags = new Map<number, { flags: string[]; modseq: number }>();
    const max = this.maxUid;
    if (changes.length > 0) this.version++;
    for (const change of changes) {
      if (change.modseq > this.knownModseq) this.knownModseq = change.modseq;
      if (this.ownModseqs.has(change.modseq)) continue;
      if (change.flags === null) {
        if (this.seqOf(change.uid) > 0) this.pendingExpunges.add(change.uid);
        flags.delete(change.uid);
      } else if (change.uid > max) {
        added.push(change.uid);
      } else if (this.seqOf(change.uid) > 0) {
        flags.set(change.uid, { flags: change.flags, modseq: change.modseq });
      }
    }
    const fresh = [...new Set(added)].sort((a, b) => a - b);
    this.uids.push(...fresh);
    for (const uid of fresh) {
      flags.delete(uid);
    }
    this.ownModseqs.clear();
    return { added: fresh, flags };
  }
}
