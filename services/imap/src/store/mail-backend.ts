import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import {
  type AclChange,
  accountQuota,
  acquireMaildropLock,
  appendSmallMessage,
  appendSmallMessageByName,
  appendToMailbox,
  BODY_CHUNK_SIZE,
  type CopyResult,
  changesSince,
  copyMessages,
  copyToNamedMailbox,
  createMailbox,
  deleteAcl,
  deleteMailbox,
  expungedSince,
  expungeMessages,
  type FlagOperation,
  findMailbox,
  findSharedMailbox,
  getAcl,
  getMetadata,
  isOwnerIdentifier,
  type KeptFlags,
  keepCopiedFlags,
  listMailboxes,
  listMailboxView,
  listSharedMailboxes,
  listSubscriptions,
  loadBodyStructure,
  loadBodyStructures,
  loadPop3Sizes,
  loadSnapshot,
  MAILBOX_SEPARATOR,
  type MessageMeta,
  type MetadataDepth,
  mailboxRights,
  mailboxStatus,
  mailboxStatusByName,
  messagesByUid,
  moveMessages,
  openMailbox,
  readBody,
  readBodyPrefixes,
  readBodyRange,
  releaseMaildropLock,
  removeMessages,
  renameMailbox,
  saveBodyStructure,
  savePop3Sizes,
  setAcl,
  setMetadata,
  setSubscribed,
  storeFlags,
  subscribeShared,
  syncChanges,
  updateFlags,
  writeBody,
} from '@hermod/mail-store';
import type { MailboxChangeEvent } from '@hermod/pipeline';
import { LRUCache } from 'lru-cache';
import {
  type CachedStructure,
  defaultMimeLimits,
  isCurrentStructure,
  type MimeLimits,
  parseMime,
} from '../mime/parse-mime.js';

/** Announces changes to every replica's sessions (NATS in production, a loop-back in unit tests). */
export interface ChangePublisher {
  publish(event: MailboxChangeEvent): void;
}

export interface AuthenticatedUser {
  id: number;
  address: string;
}

/**
 * The storage hooks the IMAP and POP3 commands call: PostgreSQL through @hermod/mail-store, plus a
 * change event after every committed write. Nothing here knows about sockets or protocol syntax.
 */
const STRUCTURE_CACHE_ENTRIES = 20_000;
/** Top-level headers kept in memory (BODY[HEADER], HEADER.FIELDS of every message in a list view). */
const HEADER_CACHE_BYTES = 16 * 1024 * 1024;
const HEADER_CACHE_MAX_ENTRY = 64 * 1024;
/**
 * Whole bodies of small messages kept in memory (FETCH BODY[] of mail a client just listed, as
 * Dovecot has the page cache for its files): bodies never change, so no invalidation is needed.
 */
const BODY_CACHE_BYTES = 16 * 1024 * 1024;
/** Messages whose immutable facts (body, size, dates) are kept, by mailbox and UID. */
const FACTS_CACHE_ENTRIES = 50_000;

/** What never changes about a message in a mailbox (a UID is never reused): all but its flags and modseq. */
export type MessageFacts = Omit<MessageMeta, 'flags' | 'modseq'>;
const BODY_CACHE_MAX_ENTRY = 64 * 1024;
/** Bytes of bodies one query reads when POP3 first measures a maildrop (pop3Sizes). */
const POP3_SIZE_BATCH_BYTES = 4 * 1024 * 1024;

/** The message a REPLACE names was expunged before the replacement committed (rolls it back). */
class MessageGoneError extends Error {}

/** How an added message's arrival is stored: its date, the zone it was given in (none: UTC), its flags sorted. */
function arrivalOf(message: { flags: string[]; internalDate: Date; internalDateZone?: number }) {
  return {
    internalDate: message.internalDate,
    ...(message.internalDateZone ? { internalDateZone: message.internalDateZone } : {}),
    flags: [...message.flags].sort(),
  };
}

/** Buffers by body id within a byte budget, least recently used out first; larger ones are not kept. */
function bytesCache(maxSize: number, maxEntrySize: number): LRUCache<number, Buffer> {
  return new LRUCache({ maxSize, maxEntrySize, sizeCalculation: (bytes) => Math.max(1, bytes.length) });
}

interface BackendCaches {
  structures: LRUCache<number, CachedStructure>;
  headers: LRUCache<number, Buffer>;
  bodies: LRUCache<number, Buffer>;
  facts: LRUCache<string, MessageFacts>;
}

export class MailBackend {
  private readonly structures: LRUCache<number, CachedStructure>;
  private readonly headers: LRUCache<number, Buffer>;
  private readonly bodies: LRUCache<number, Buffer>;
  /** By `mailboxId/uid`, as the last read of the message found them. */
  private readonly facts: LRUCache<string, MessageFacts>;
  /**
   * Bodies the last prefetchStructures found without a usable stored structure: structure() parses
   * them without asking PostgreSQL again (a message appended since the last FETCH saves a round trip).
   */
  private unstored: Set<number> | undefined;

  constructor(
    readonly pool: Pool,
    private readonly publisher: ChangePublisher,
    private readonly mimeLimits: MimeLimits = defaultMimeLimits,
    caches?: BackendCaches,
  ) {
    this.structures = caches?.structures ?? new LRUCache({ max: STRUCTURE_CACHE_ENTRIES });
    this.headers = caches?.headers ?? bytesCache(HEADER_CACHE_BYTES, HEADER_CACHE_MAX_ENTRY);
    this.bodies = caches?.bodies ?? bytesCache(BODY_CACHE_BYTES, BODY_CACHE_MAX_ENTRY);
    this.facts = caches?.facts ?? new LRUCache({ max: FACTS_CACHE_ENTRIES });
  }

  /**
   * The same storage (and caches) for one session: the change events it publishes name the
   * session as their origin, so NOTIFY can leave a session's own changes out of what it is told
   * (RFC 5465 section 5), also on other replicas.
   */
  forSession(sessionId: string): MailBackend {
    const publisher: ChangePublisher = {
      publish: (event) => this.publisher.publish({ ...event, origin: sessionId }),
    };
    return new MailBackend(this.pool, publisher, this.mimeLimits, {
      structures: this.structures,
      headers: this.headers,
      bodies: this.bodies,
      facts: this.facts,
    });
  }

  listMailboxes(accountId: number) {
    return listMailboxes(this.pool, accountId);
  }

  findMailbox(accountId: number, name: string) {
    return findMailbox(this.pool, accountId, name);
  }

  async createMailbox(accountId: number, name: string, specialUse: string | null = null) {
    const created = await createMailbox(this.pool, accountId, name, specialUse);
    this.mailboxChanged(accountId, created.id, { name });
    return created;
  }

  /** A mailbox was created, deleted or renamed (what NOTIFY's MailboxName reports). */
  private mailboxChanged(
    accountId: number,
    mailboxId: number,
    change: { name: string; oldName?: string; deleted?: boolean },
  ): void {
    this.publisher.publish({ accountId, mailboxId, kind: 'mailboxes', uids: [], modseq: 0, ...change });
  }

  async deleteMailbox(accountId: number, name: string) {
    const id = await deleteMailbox(this.pool, accountId, name);
    this.mailboxChanged(accountId, id, { name, deleted: true });
  }

  async renameMailbox(accountId: number, from: string, to: string) {
    // The mailbox and its children, by their names before the rename (INBOX keeps its children).
    const before = (await listMailboxes(this.pool, accountId)).filter(
      (m) => m.name === from || (from !== 'INBOX' && m.name.startsWith(`${from}${MAILBOX_SEPARATOR}`)),
    );
    await withTransaction(this.pool, (client) => renameMailbox(client, accountId, from, to));
    const source = before.find((m) => m.name === from);
    if (!source) return;
    if (from === 'INBOX') {
      // INBOX stays (empty); its messages now live in a new mailbox of the new name.
      this.publisher.publish({ accountId, mailboxId: source.id, kind: 'expunge', uids: [], modseq: 0 });
      const created = await findMailbox(this.pool, accountId, to);
      if (created) this.mailboxChanged(accountId, created.id, { name: to });
      return;
    }
    for (const box of before)
      this.mailboxChanged(accountId, box.id, { name: to + box.name.slice(from.length), oldName: box.name });
  }

  listSubscriptions(accountId: number) {
    return listSubscriptions(this.pool, accountId);
  }

  async setSubscribed(accountId: number, name: string, subscribed: boolean) {
    await setSubscribed(this.pool, accountId, name, subscribed);
    this.publisher.publish({
      accountId,
      mailboxId: 0,
      kind: 'subscription',
      uids: [],
      modseq: 0,
      name,
      subscribed,
    });
  }

  /** METADATA entries (RFC 5464) of the server (mailboxId null) or a mailbox, as the account sees them. */
  getMetadata(accountId: number, mailboxId: number | null, names: string[], depth: MetadataDepth) {
    return getMetadata(this.pool, accountId, mailboxId, names, depth);
  }

  async setMetadata(
    accountId: number,
    mailboxId: number | null,
    entries: Array<{ name: string; value: Buffer | null }>,
    maxEntries: number,
    /** The mailbox's owner: the change is announced under its account (another's shared mailbox). */
    ownerId = accountId,
  ) {
    await setMetadata(this.pool, accountId, mailboxId, entries, maxEntries);
    this.publisher.publish({
      accountId: ownerId,
      mailboxId: mailboxId ?? 0,
      kind: 'metadata',
      uids: [],
      modseq: 0,
      entries: entries.map((e) => e.name),
    });
  }

  /** The rights an account holds on a mailbox (RFC 4314; all of them on its own). */
  mailboxRights(accountId: number, mailboxId: number) {
    return mailboxRights(this.pool, accountId, mailboxId);
  }

  /** Another account's mailbox (by owner address and name) with the viewer's rights. */
  findSharedMailbox(accountId: number, ownerAddress: string, name: string) {
    return findSharedMailbox(this.pool, accountId, ownerAddress, name);
  }

  listSharedMailboxes(accountId: number) {
    return listSharedMailboxes(this.pool, accountId);
  }

  /** LIST's mailboxes, subscriptions and shared mailboxes in one round trip. */
  listMailboxView(accountId: number) {
    return listMailboxView(this.pool, accountId);
  }

  subscribeShared(accountId: number, name: string) {
    return subscribeShared(this.pool, accountId, name);
  }

  getAcl(mailboxId: number) {
    return getAcl(this.pool, mailboxId);
  }

  isOwnerIdentifier(ownerId: number, identifier: string) {
    return isOwnerIdentifier(this.pool, ownerId, identifier);
  }

  /** SETACL; the owner's sessions with the mailbox selected hear of it as a mailbox change. */
  async setAcl(ownerId: number, mailboxId: number, identifier: string, change: AclChange) {
    const rights = await setAcl(this.pool, ownerId, mailboxId, identifier, change);
    this.publisher.publish({ accountId: ownerId, mailboxId, kind: 'mailboxes', uids: [], modseq: 0 });
    return rights;
  }

  async deleteAcl(ownerId: number, mailboxId: number, identifier: string) {
    await deleteAcl(this.pool, ownerId, mailboxId, identifier);
    this.publisher.publish({ accountId: ownerId, mailboxId, kind: 'mailboxes', uids: [], modseq: 0 });
  }

  quota(accountId: number) {
    return accountQuota(this.pool, accountId);
  }

  /** Whether adding bytes keeps the account within its storage limit. */
  async fits(accountId: number, bytes: number): Promise<boolean> {
    const quota = await accountQuota(this.pool, accountId);
    return quota.limit === null || quota.bytes + bytes <= quota.limit;
  }

  mailboxStatus(mailboxId: number) {
    return mailboxStatus(this.pool, mailboxId);
  }

  /** STATUS by name: the mailbox's id and counters in one round trip. */
  mailboxStatusByName(accountId: number, name: string) {
    return mailboxStatusByName(this.pool, accountId, name);
  }

  /** SELECT/EXAMINE in one round trip (with the \Recent claim of a read-write open). */
  openMailbox(accountId: number, name: string, options: { claimRecent: boolean; firstUnseen: boolean }) {
    return openMailbox(this.pool, accountId, name, options);
  }

  snapshot(mailboxId: number) {
    return loadSnapshot(this.pool, mailboxId);
  }

  expungedSince(mailboxId: number, modseq: number) {
    return expungedSince(this.pool, mailboxId, modseq);
  }

  changesSince(mailboxId: number, modseq: number) {
    return changesSince(this.pool, mailboxId, modseq);
  }

  /** A session's sync: changes since modseq, with the \Recent claim when claimAbove is given (one round trip). */
  syncChanges(mailboxId: number, modseq: number, claimAbove: number | undefined) {
    return syncChanges(this.pool, mailboxId, modseq, claimAbove);
  }

  /** Takes or renews POP3's maildrop lock (RFC 1939 8), shared by every replica: false when another session holds it. */
  acquireMaildropLock(mailboxId: number, holder: string, ttlMs: number) {
    return acquireMaildropLock(this.pool, mailboxId, holder, ttlMs);
  }

  releaseMaildropLock(mailboxId: number, holder: string) {
    return releaseMaildropLock(this.pool, mailboxId, holder);
  }

  /**
   * The POP3 wire size (RFC 1939 11) of each body, as measure(body bytes) computes it: from
   * PostgreSQL where computed before, else by reading the body once and recording the result. Bodies
   * of one stored chunk are read many per round trip (up to POP3_SIZE_BATCH_BYTES); larger ones alone.
   */
  async pop3Sizes(
    bodies: ReadonlyArray<{ bodyId: number; size: number }>,
    measure: (body: AsyncIterable<Buffer> | Iterable<Buffer>) => Promise<number>,
  ): Promise<Map<number, number>> {
    const sizes = await loadPop3Sizes(
      this.pool,
      bodies.map((b) => b.bodyId),
    );
    const missing = bodies.filter((b) => !sizes.has(b.bodyId));
    const computed = new Map<number, number>();
    const small = missing.filter((b) => b.size <= BODY_CHUNK_SIZE);
    for (let i = 0; i < small.length; ) {
      const batch: Array<{ bodyId: number; end: number }> = [];
      for (
        let bytes = 0;
        i < small.length && (batch.length === 0 || bytes + small[i]!.size <= POP3_SIZE_BATCH_BYTES);
        i++
      ) {
        batch.push({ bodyId: small[i]!.bodyId, end: small[i]!.size });
        bytes += small[i]!.size;
      }
      const read = await readBodyPrefixes(this.pool, batch);
      for (const { bodyId } of batch) {
        const data = read.get(bodyId);
        computed.set(bodyId, await measure(data ? [data] : this.readBody(bodyId)));
      }
    }
    for (const { bodyId, size } of missing)
      if (size > BODY_CHUNK_SIZE) computed.set(bodyId, await measure(this.readBody(bodyId)));
    await savePop3Sizes(this.pool, computed);
    for (const [bodyId, size] of computed) sizes.set(bodyId, size);
    return sizes;
  }

  async messages(mailboxId: number, uids: number[]) {
    const metas = await messagesByUid(this.pool, mailboxId, uids);
    for (const { flags: _flags, modseq: _modseq, ...facts } of metas)
      this.facts.set(`${mailboxId}/${facts.uid}`, facts);
    return metas;
  }

  /**
   * A FETCH's messages from memory, for items that need no flags or modseq: each one's facts as the
   * last read of it found them and, when asked, its parsed structure and whole body. Undefined when
   * any of it is not in memory (the caller asks PostgreSQL). A message another session expunged
   * meanwhile may still be answered this way, as RFC 2180 4.1.1 allows until this session is told.
   */
  messagesInMemory(
    mailboxId: number,
    uids: number[],
    need: { structure: boolean; body: boolean },
  ): MessageFacts[] | undefined {
    const out: MessageFacts[] = [];
    for (const uid of uids) {
      const facts = this.facts.get(`${mailboxId}/${uid}`);
      if (!facts) return undefined;
      if (need.structure && !this.structures.has(facts.bodyId)) return undefined;
      if (need.body && !this.bodies.has(facts.bodyId)) return undefined;
      out.push(facts);
    }
    return out;
  }

  async updateFlags(
    accountId: number,
    mailboxId: number,
    uids: number[],
    operation: FlagOperation,
    flags: string[],
    unchangedSince?: number,
    /** Also the flags of the named messages left unchanged (a non-silent STORE reports them). */
    reportUnchanged = false,
  ) {
    const result =
      unchangedSince === undefined
        ? await storeFlags(this.pool, mailboxId, uids, operation, flags, reportUnchanged)
        : await withTransaction(this.pool, (client) =>
            updateFlags(client, mailboxId, uids, operation, flags, unchangedSince, reportUnchanged),
          );
    if (result.changed.length > 0)
      this.publisher.publish({
        accountId,
        mailboxId,
        kind: 'flags',
        uids: result.changed.map((c) => c.uid),
        modseq: result.modseq,
      });
    return result;
  }

  async expunge(accountId: number, mailboxId: number, uids?: number[]) {
    return this.toldOfExpunge(accountId, mailboxId, await expungeMessages(this.pool, mailboxId, uids));
  }

  /** Removes the given messages whatever their flags, in one statement (POP3's UPDATE state). */
  async remove(accountId: number, mailboxId: number, uids: number[]) {
    return this.toldOfExpunge(accountId, mailboxId, await removeMessages(this.pool, mailboxId, uids));
  }

  /** Other sessions hear of what an expunge removed. */
  private toldOfExpunge<T extends { modseq: number; uids: number[] }>(
    accountId: number,
    mailboxId: number,
    result: T,
  ): T {
    if (result.uids.length > 0)
      this.publisher.publish({
        accountId,
        mailboxId,
        kind: 'expunge',
        uids: result.uids,
        modseq: result.modseq,
      });
    return result;
  }

  /** `targetAccountId`: the target mailbox's owner when it is another account's (ACL). */
  async copy(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
    targetAccountId = accountId,
    /** Flags the copies may keep, when the target's rights do not allow them all (ACL). */
    keep?: KeptFlags,
  ) {
    const result = await this.keepingFlags(keep, toMailboxId, (db) =>
      copyMessages(db, fromMailboxId, uids, toMailboxId),
    );
    this.toldOfCopy(targetAccountId, toMailboxId, result);
    return result;
  }

  async move(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
    targetAccountId = accountId,
    /** Flags the moved messages may keep, when the target's rights do not allow them all (ACL). */
    keep?: KeptFlags,
  ) {
    const result = await this.keepingFlags(keep, toMailboxId, (db) =>
      moveMessages(db, fromMailboxId, uids, toMailboxId),
    );
    this.toldOfCopy(targetAccountId, toMailboxId, result);
    this.toldOfExpunge(accountId, fromMailboxId, movedAway(result));
    return result;
  }

  /**
   * COPY or MOVE between the account's own mailboxes, the target named: one statement (the target,
   * the storage limit for a copy, the copy or move).
   */
  async copyByName(accountId: number, fromMailboxId: number, uids: number[], name: string, move: boolean) {
    const result = await copyToNamedMailbox(this.pool, accountId, name, fromMailboxId, uids, move);
    if (result.outcome !== 'copied') return result;
    this.toldOfCopy(accountId, result.mailboxId, result);
    if (move) this.toldOfExpunge(accountId, fromMailboxId, movedAway(result));
    return result;
  }

  /**
   * A copy or move on the pool (one statement); when the target's rights do not allow every flag,
   * in a transaction with the copies' flags narrowed to `keep` (RFC 4314 4) before anyone sees them.
   */
  private keepingFlags<R extends CopyResult>(
    keep: KeptFlags | undefined,
    toMailboxId: number,
    run: (db: Pool | PoolClient) => Promise<R>,
  ): Promise<R> {
    if (!keep) return run(this.pool);
    return withTransaction(this.pool, async (client) => {
      const done = await run(client);
      await keepCopiedFlags(
        client,
        toMailboxId,
        done.pairs.map((p) => p[1]),
        keep,
      );
      return done;
    });
  }

  /** Other sessions of the target's owner hear of the copies. */
  private toldOfCopy(accountId: number, mailboxId: number, result: CopyResult): void {
    if (result.pairs.length === 0) return;
    this.publisher.publish({
      accountId,
      mailboxId,
      kind: 'exists',
      uids: result.pairs.map((p) => p[1]),
      modseq: result.modseq,
    });
  }

  /** Stores message bodies and adds them to a mailbox in one transaction (MULTIAPPEND is all or nothing). */
  async append(
    accountId: number,
    mailboxId: number,
    messages: Array<{ chunks: Buffer[]; flags: string[]; internalDate: Date; internalDateZone?: number }>,
  ) {
    const [only] = messages;
    // One message with a body of one chunk (the usual APPEND): one statement, no transaction.
    const small =
      only && messages.length === 1
        ? await appendSmallMessage(this.pool, mailboxId, only.chunks, arrivalOf(only))
        : undefined;
    // The first FETCH of a new message (its structure, BODY[]) need not read back what was just sent;
    // a copy, so the cache does not keep the socket's read buffers alive.
    if (small && only && small.size <= BODY_CACHE_MAX_ENTRY)
      this.bodies.set(small.bodyId, Buffer.concat(only.chunks, small.size));
    const results = small
      ? [small]
      : await withTransaction(this.pool, async (client) => {
          const out = [];
          for (const message of messages) {
            const body = await writeBody(client, message.chunks);
            out.push(
              await appendToMailbox(client, {
                mailboxId,
                bodyId: body.bodyId,
                size: body.size,
                ...arrivalOf(message),
              }),
            );
          }
          return out;
        });
    const last = results[results.length - 1];
    if (last)
      this.toldOfAppend(
        accountId,
        mailboxId,
        results.map((r) => r.uid),
        last.modseq,
      );
    return results;
  }

  /**
   * APPEND of one message to one of the account's own mailboxes, named as the client named it, in
   * one statement: the mailbox, the storage limit, the body with its parsed structure (so the first
   * FETCH of the message neither parses it nor writes the structure), the message. 'nonexistent' and
   * 'overquota' changed nothing; undefined, and nothing done, when the message is larger than that
   * statement takes (the caller goes the general way: findMailbox, fits, append).
   */
  async appendByName(
    accountId: number,
    name: string,
    message: { chunks: Buffer[]; flags: string[]; internalDate: Date; internalDateZone?: number },
  ) {
    const size = message.chunks.reduce((n, chunk) => n + chunk.length, 0);
    if (size > BODY_CHUNK_SIZE) return undefined;
    // A copy, so the body cache does not keep the socket's read buffers alive.
    const whole = Buffer.concat(message.chunks, size);
    const structure = parseMime(whole, this.mimeLimits);
    const result = await appendSmallMessageByName(this.pool, accountId, name, [whole], {
      ...arrivalOf(message),
      structure: { value: structure, headerSize: structure.root.bodyStart },
    });
    if (result?.outcome !== 'appended') return result?.outcome;
    if (size <= BODY_CACHE_MAX_ENTRY) this.bodies.set(result.bodyId, whole);
    this.remember(result.bodyId, structure);
    this.toldOfAppend(accountId, result.mailboxId, [result.uid], result.modseq);
    return result;
  }

  /**
   * REPLACE (RFC 8508): adds the new message to a mailbox and expunges the old one in one
   * transaction; undefined (and nothing changed) when the old message is no longer there.
   */
  async replace(
    accountId: number,
    mailboxId: number,
    message: { chunks: Buffer[]; flags: string[]; internalDate: Date; internalDateZone?: number },
    oldMailboxId: number,
    oldUid: number,
    /** The old message's mailbox owner when it is another account's (ACL). */
    oldAccountId = accountId,
  ) {
    const result = await withTransaction(this.pool, async (client) => {
      const body = await writeBody(client, message.chunks);
      const appended = await appendToMailbox(client, {
        mailboxId,
        bodyId: body.bodyId,
        size: body.size,
        ...arrivalOf(message),
      });
      const removed = await removeMessages(client, oldMailboxId, [oldUid]);
      if (removed.uids.length === 0) throw new MessageGoneError();
      return { appended, expungeModseq: removed.modseq };
    }).catch((error: unknown) => {
      if (error instanceof MessageGoneError) return undefined;
      throw error;
    });
    if (!result) return undefined;
    this.toldOfAppend(accountId, mailboxId, [result.appended.uid], result.appended.modseq);
    this.publisher.publish({
      accountId: oldAccountId,
      mailboxId: oldMailboxId,
      kind: 'expunge',
      uids: [oldUid],
      modseq: result.expungeModseq,
    });
    return result;
  }

  /** Every session (all replicas) hears of messages appended to a mailbox: APPEND, REPLACE. */
  private toldOfAppend(accountId: number, mailboxId: number, uids: number[], modseq: number): void {
    this.publisher.publish({ accountId, mailboxId, kind: 'exists', uids, modseq });
  }

  /** A stored body chunk by chunk; a small one is kept whole once read (BODY_CACHE_MAX_ENTRY). */
  async *readBody(bodyId: number): AsyncGenerator<Buffer> {
    const hit = this.bodies.get(bodyId);
    if (hit) {
      if (hit.length > 0) yield hit;
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of readBody(this.pool, bodyId)) {
      size += chunk.length;
      if (size <= BODY_CACHE_MAX_ENTRY) chunks.push(chunk);
      yield chunk;
    }
    if (size <= BODY_CACHE_MAX_ENTRY) this.bodies.set(bodyId, Buffer.concat(chunks, size));
  }

  /** Bytes [start, end) of a stored body (from memory when the whole body is cached). */
  async *readRange(bodyId: number, start: number, end: number, chunkSize?: number): AsyncGenerator<Buffer> {
    const hit = this.bodies.get(bodyId);
    if (!hit) {
      yield* readBodyRange(this.pool, bodyId, start, end, chunkSize);
      return;
    }
    const slice = hit.subarray(start, Math.max(start, Math.min(end, hit.length)));
    if (slice.length > 0) yield slice;
  }

  /** The whole body when it is in memory (no promise to wait for: FETCH asks per message). */
  cachedBody(bodyId: number): Buffer | undefined {
    return this.bodies.get(bodyId);
  }

  /** The parsed structure when it is in memory (no promise to wait for: FETCH asks per message). */
  cachedStructure(bodyId: number): CachedStructure | undefined {
    return this.structures.get(bodyId);
  }

  /** The MIME structure of a body, parsed once and cached in message_bodies.structure. */
  async structure(bodyId: number): Promise<CachedStructure> {
    // Bodies never change, so a parsed structure can be kept in memory as long as there is room.
    const remembered = this.structures.get(bodyId);
    if (remembered) return remembered;
    if (!this.unstored?.delete(bodyId)) {
      const cached = await loadBodyStructure<unknown>(this.pool, bodyId);
      if (isCurrentStructure(cached)) return this.remember(bodyId, cached);
    }
    const structure = parseMime(await this.loadBody(bodyId), this.mimeLimits);
    await saveBodyStructure(this.pool, bodyId, structure.root.bodyStart, structure);
    return this.remember(bodyId, structure);
  }

  private remember(bodyId: number, structure: CachedStructure): CachedStructure {
    this.structures.set(bodyId, structure);
    return structure;
  }

  /** rootHeader's answer when it is in memory (no promise to wait for: FETCH asks per message). */
  cachedRootHeader(bodyId: number, end: number): Buffer | undefined {
    const hit = this.headers.get(bodyId);
    if (hit && hit.length === end) return hit;
    const whole = this.bodies.get(bodyId);
    if (whole && whole.length >= end) return whole.subarray(0, end);
    return undefined;
  }

  /**
   * The top-level header of a body (bytes 0..end, end being the body's bodyStart). Bodies never
   * change, so headers up to 64 KiB are kept (16 MiB in all, oldest out first).
   */
  async rootHeader(bodyId: number, end: number, chunkSize?: number): Promise<Buffer> {
    const cached = this.cachedRootHeader(bodyId, end);
    if (cached) return cached;
    const hit = this.headers.get(bodyId);
    const chunks: Buffer[] = [];
    for await (const chunk of readBodyRange(this.pool, bodyId, 0, end, chunkSize)) chunks.push(chunk);
    const header = Buffer.concat(chunks);
    if (header.length <= HEADER_CACHE_MAX_ENTRY && !hit) this.headers.set(bodyId, header);
    return header;
  }

  /**
   * Fills the structure cache for a batch of messages (FETCH ENVELOPE/BODYSTRUCTURE of a list view)
   * in one round trip; bodies parsed by no one yet are left to structure().
   */
  async prefetchStructures(bodyIds: readonly number[]): Promise<void> {
    this.unstored = undefined;
    const unknown = bodyIds.filter((id) => !this.structures.has(id));
    if (unknown.length === 0) return;
    const stored = await loadBodyStructures<unknown>(this.pool, unknown);
    for (const id of unknown) {
      const structure = stored.get(id);
      if (isCurrentStructure(structure)) this.remember(id, structure);
      else {
        this.unstored ??= new Set();
        this.unstored.add(id);
      }
    }
  }

  /**
   * Fills the structure and header caches for a batch of messages in at most two round trips (SEARCH
   * and SORT on headers read every message's header; one query each would cost a round trip per
   * message). What cannot be had this way (no stored structure yet, a header beyond the first chunk)
   * is left to structure() and rootHeader().
   */
  async prefetchHeaders(bodyIds: readonly number[]): Promise<void> {
    await this.prefetchStructures(bodyIds);
    const wanted: Array<{ bodyId: number; end: number }> = [];
    for (const bodyId of new Set(bodyIds)) {
      const end = this.structures.get(bodyId)?.root.bodyStart;
      if (end === undefined || end > HEADER_CACHE_MAX_ENTRY) continue;
      if (this.headers.get(bodyId)?.length !== end) wanted.push({ bodyId, end });
    }
    for (const [bodyId, header] of await readBodyPrefixes(this.pool, wanted))
      if (header.length > 0) this.headers.set(bodyId, header);
  }

  /** Whole body in memory (SEARCH BODY/TEXT); callers bound the size. */
  async loadBody(bodyId: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.readBody(bodyId)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
}

/** A move's originals, as the expunge other sessions hear of (one modseq for all of them). */
function movedAway(result: CopyResult & { expungeModseq: number }): { modseq: number; uids: number[] } {
  return { modseq: result.expungeModseq, uids: result.pairs.map((p) => p[0]) };
}
