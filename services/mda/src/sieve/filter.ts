import type { PoolClient } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import {
  bodyChunksSql,
  bodyHeaderChunksSql,
  createMailbox,
  findMailbox,
  findMailboxesFor,
  isValidMailboxName,
  joinBodyChunks,
  listMailboxesOf,
  type MailboxLookup,
  type MailboxRef,
  mailboxLookupsSql,
  mailboxLookupsValues,
  resolveMailbox,
} from '@hermod/mail-store';
import {
  type CompiledScript,
  type DuplicateTracker,
  deserializeCompiled,
  evaluateSieveScripts,
  ParsedMessage,
  SCRIPT_INPUTS,
  type SieveAction,
  type SieveEnvironment,
  type SieveResult,
} from '@hermod/sieve';
import {
  buildMailtoNotification,
  buildRejectNotice,
  buildVacationReply,
  firstHeaderValue,
  headerBlock,
  headerFields,
} from '@hermod/sieve/replies';
import {
  type DeliveryScript,
  type DeliveryScriptDigests,
  type DeliveryScripts,
  deliveryScriptDigestsSql,
  resolveDeliveryScripts,
  seenDuplicates,
} from '@hermod/sieve-store';
import { LRUCache } from 'lru-cache';
import type { SieveMetrics } from './metrics.js';

/** Limits and names for running users' scripts at delivery. */
export interface SieveDeliveryOptions {
  /** CPU time one recipient's scripts may take together, in milliseconds. */
  timeBudgetMs: number;
  maxActions: number;
  maxRedirects: number;
  /** Host name in Message-IDs and notices. */
  hostname: string;
  /** The domain's sub-address separator (RFC 5233 `subaddress`), '+' when it has none set. */
  subaddressSeparator(domain: string): string;
  /** Automatic replies (vacation, reject notices) one account may send per hour. */
  autoRepliesPerHour: number;
  /** Shortest and longest period between vacation replies to one sender, in seconds (RFC 5230 4.1). */
  vacationMinSeconds?: number;
  vacationMaxSeconds?: number;
  /** Rewrites the envelope sender of a redirected copy (SRS); identity when SRS is not configured. */
  rewriteSender(sender: string, recipientDomain: string): string;
  metrics?: SieveMetrics;
}

/** A recipient about to be delivered, as mda's batch knows it. */
export interface FilterInput {
  key: string;
  spoolId: string;
  rcptIndex: number;
  accountId: number;
  bodyId: number;
  /** The message's size (the size test, when only its header section is read). */
  size: number;
  /** Routing's target (INBOX, or the mailbox a route names): where keep files the message. */
  mailboxTarget: string;
}

/** A message a filter sends: accepted into the spool with a deterministic id, then routed. */
export interface OutgoingMessage {
  kind: 'vacation' | 'redirect' | 'reject' | 'notify';
  /** The account whose filter sends it (rate limits). */
  accountId: number;
  spoolId: string;
  mailFrom: string;
  to: string;
  body: Buffer;
  /** redirect: the domain of the recipient whose filter forwards it (it ARC-seals the copy). */
  forwardedFrom?: string;
  /** vacation: the response is sent only if this claim succeeds (one per sender per period). */
  claim?: { accountId: number; handle: string; sender: string; seconds: number };
}

/** What the filters decided for one recipient. */
export interface FilterOutcome {
  /** Copies to store, each in one mailbox with its flags; empty when nothing is kept. */
  copies: Array<{ mailbox: MailboxRef; flags: string[] }>;
  /** The message after editheader, stored as a new body for this recipient's copies. */
  modified?: Buffer;
  outgoing: Omit<OutgoingMessage, 'spoolId'>[];
  duplicates: Array<{ id: string; seconds: number }>;
  /** Why there is no copy (discard, redirect, reject), for the recipient's destination. */
  ended?: string;
}

/** What fileinto needs to know of an account's mailboxes, as the batch read them. */
interface KnownMailbox {
  id: number;
  name: string;
  specialUse: string | null;
}

/** Scripts as the engine runs them, by the digest of their compiled form (see loadDeliveryScripts). */
const compiledCache = new LRUCache<string, CompiledScript>({ max: 1_000 });
function compiled(script: DeliveryScript<CompiledScript>): CompiledScript {
  if (script.cached) return script.cached;
  let parsed = compiledCache.get(script.digest);
  if (!parsed) {
    parsed = deserializeCompiled(script.compiled ?? '');
    compiledCache.set(script.digest, parsed);
  }
  return parsed;
}

/**
 * RFC 5235 spamtest of a message: 10 ("definitely spam") exactly when our MX judged it so (its
 * envelope placement `junk`: Rspamd add-header/rewrite-subject, or DMARC quarantine); otherwise
 * from the MX's `X-Spam-Status: ..., score=S required=R` (the topmost one) on 1..9, so that
 * `spamtest :value "ge" "10"` (the default after-script) is the MX's verdict and nothing else.
 */
export function spamTestOf(
  /** The value of the message's first X-Spam-Status field (firstHeaderValue). */
  status: string | undefined,
  mxJudgedSpam: boolean,
): { score: number; percent: number } | undefined {
  if (mxJudgedSpam) return { score: 10, percent: 100 };
  const match = status && /score=(-?[\d.]+)\s+required=([\d.]+)/.exec(status);
  if (!match) return undefined;
  const ratio = Math.min(Math.max(Number(match[1]) / Math.max(Number(match[2]), 0.01), 0), 1);
  return { score: Math.min(1 + Math.round(ratio * 9), 9), percent: Math.min(Math.round(ratio * 100), 99) };
}

/** An IMAP flag a copy may start with: a system flag (not \\Recent) or a keyword atom. */
const isStorableFlag = (flag: string): boolean =>
  /^\\(Seen|Answered|Flagged|Deleted|Draft)$/i.test(flag) ||
  /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]{1,128}$/.test(flag);

const systemFlags = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
const canonicalFlag = (flag: string): string =>
  systemFlags.find((f) => f.toLowerCase() === flag.toLowerCase()) ?? flag;

const normaliseMailbox = (name: string) => (name.toUpperCase() === 'INBOX' ? 'INBOX' : name);

/**
 * The mailbox a fileinto names: by mailbox id or special use when given and present, else by name;
 * a missing name is created only with :create, otherwise the copy goes where keep would (RFC 5228
 * 4.1: a failed fileinto must not lose the message).
 */
async function fileintoTarget(
  client: PoolClient,
  accountId: number,
  action: Extract<SieveAction, { kind: 'fileinto' }>,
  keepTarget: string,
  logger: Logger,
  known: readonly KnownMailbox[],
): Promise<MailboxRef> {
  // The account's mailboxes as the batch read them answer most; the queries below see newer ones.
  const name = normaliseMailbox(action.mailbox);
  const ref = (m: KnownMailbox | undefined) => (m ? { id: m.id, name: m.name } : undefined);
  const snapshot =
    (action.mailboxId ? ref(known.find((m) => String(m.id) === action.mailboxId)) : undefined) ??
    (action.specialUse ? ref(known.find((m) => m.specialUse === action.specialUse)) : undefined) ??
    ref(known.find((m) => m.name === name));
  if (snapshot) return snapshot;
  if (action.mailboxId && /^\d{1,15}$/.test(action.mailboxId)) {
    const { rows } = await client.query<MailboxRef>(
      'SELECT id, name FROM mailboxes WHERE id = $1 AND account_id = $2',
      [Number(action.mailboxId), accountId],
    );
    if (rows[0]) return rows[0];
  }
  if (action.specialUse) {
    const { rows } = await client.query<MailboxRef>(
      'SELECT id, name FROM mailboxes WHERE account_id = $1 AND special_use = $2 LIMIT 1',
      [accountId, action.specialUse],
    );
    if (rows[0]) return rows[0];
  }
  const found = await findMailbox(client, accountId, name);
  if (found) return found;
  // createMailbox refuses a name IMAP CREATE would refuse (isValidMailboxName): then keep.
  if (action.create && isValidMailboxName(name)) {
    try {
      return await createMailbox(client, accountId, name, action.specialUse ?? null);
    } catch {
      const raced = await findMailbox(client, accountId, name);
      if (raced) return raced;
    }
  }
  logger.info({ accountId, mailbox: action.mailbox }, 'sieve fileinto to a missing mailbox; kept instead');
  return resolveMailbox(client, accountId, keepTarget);
}

/** What the filters of a batch read before they run: one row of filterReadSql. */
export interface FilterRead {
  scripts: DeliveryScriptDigests[];
  /** The batch's spool messages our MX judged spam (envelope placement junk): spamtest 10. */
  junk: string[];
  /** The MX's X-Spam-Status value by spool id, where its envelope has it (`spamStatus`, spamTestOf). */
  spam_statuses: Record<string, string>;
  /** The envelopes of the recipients whose scripts read them (SCRIPT_INPUTS.envelope). */
  envelopes: Array<{ spoolId: string; idx: number; mailFrom: string; address: string }>;
  /** The chunks' bodies and lengths, in order, and the chunks themselves end to end: one bytea
   * (an array of bytea would be parsed character by character). A message comes whole when one of
   * its recipients' scripts reads the body, its header section alone when they read header fields
   * only, not at all when they read neither. */
  body_ids: Array<number | string> | null;
  body_lengths: number[] | null;
  body_data: Buffer | null;
  /** The mailboxes the hinted fileinto lookups found (ord counts `hinted` from 1). */
  fileinto: Array<{ ord: number; id: number; name: string }>;
  /** The lookups read with the batch (fileintoHintsFor), not a column: the caller adds them. */
  hinted: MailboxLookup[];
}

const lookupKey = (l: MailboxLookup): string =>
  `${l.accountId}\u0000${l.id ?? ''}\u0000${l.specialUse ?? ''}\u0000${l.name}`;

/**
 * The fileinto lookups each account's runs made lately: hints for what the next batch reads with
 * its facts (fileintoHintsFor), so that the usual batch needs no lookup statement of its own after
 * its runs. Only what was looked up is kept, never what was found: the mailboxes are read fresh with
 * every batch, and a hint that no longer finds anything only leaves its lookup to the statement.
 */
const fileintoHints = new LRUCache<number, { lookups: MailboxLookup[]; keys: Set<string> }>({
  max: 10_000,
});
/** Lookups kept per account (the most recent ones). */
const HINTS_PER_ACCOUNT = 16;

function rememberFileinto(lookup: MailboxLookup, key: string): void {
  let hints = fileintoHints.get(lookup.accountId);
  if (!hints) {
    hints = { lookups: [], keys: new Set() };
    fileintoHints.set(lookup.accountId, hints);
  }
  if (hints.keys.has(key)) return;
  hints.lookups.push(lookup);
  hints.keys.add(key);
  if (hints.lookups.length > HINTS_PER_ACCOUNT) hints.keys.delete(lookupKey(hints.lookups.shift()!));
}

/** The fileinto lookups to read with a batch's facts for these accounts (filterReadSql's `hints`). */
export function fileintoHintsFor(accountIds: readonly number[]): MailboxLookup[] {
  const out: MailboxLookup[] = [];
  for (const id of accountIds) {
    const hints = fileintoHints.get(id);
    if (hints) out.push(...hints.lookups);
  }
  return out;
}

/**
 * The filters' reads for a batch as one SELECT of one row (FilterRead), over SQL expressions of the
 * recipients' accounts (bigint[], distinct), and per recipient its spool id (uuid[]), recipient index
 * (int[]) and account (bigint[]) given as parameters: script digests with what the scripts read
 * (their inputs, recorded at compile time), and only that of the envelopes and the messages (whole,
 * header section, or nothing). The accounts' mailboxes are not read here: fileinto's are looked up
 * for the batch after its scripts ran (lookupFileintoTargets), only those named.
 */
export const filterReadSql = (p: {
  accountIds: string;
  spoolIds: string;
  rcptIndexes: string;
  recipientAccounts: string;
  /** mailboxLookupsSql's parameters, for the hinted fileinto lookups (fileintoHintsFor). */
  hints: Parameters<typeof mailboxLookupsSql>[0];
}): string => `WITH d AS (${deliveryScriptDigestsSql(p.accountIds)}),
     r AS MATERIALIZED (
       SELECT k.spool_id, k.idx, s.body_id, s.mail_from, s.envelope->>'placement' = 'junk' AS junk,
              s.envelope->>'spamStatus' AS spam_status,
              -- The spam verdict comes from the envelope when the MX put it there, else from the header.
              d.inputs | CASE WHEN d.inputs & ${SCRIPT_INPUTS.spam} <> 0 AND s.envelope->>'spamStatus' IS NULL
                              THEN ${SCRIPT_INPUTS.header} ELSE 0 END AS inputs
       FROM unnest(${p.spoolIds}::uuid[], ${p.rcptIndexes}::int[], ${p.recipientAccounts}::bigint[])
         AS k(spool_id, idx, account_id)
       JOIN spool_messages s ON s.id = k.spool_id
       JOIN d ON d.id = k.account_id),
     need AS MATERIALIZED (SELECT body_id, bit_or(inputs) AS inputs FROM r GROUP BY body_id)
   SELECT
       (SELECT COALESCE(json_agg(d), '[]') FROM d) AS scripts,
       (SELECT COALESCE(array_agg(DISTINCT spool_id), '{}') FROM r WHERE junk) AS junk,
       (SELECT COALESCE(json_object_agg(spool_id, spam_status), '{}')
          FROM (SELECT DISTINCT spool_id, spam_status FROM r
                WHERE spam_status IS NOT NULL AND inputs & ${SCRIPT_INPUTS.spam} <> 0) x) AS spam_statuses,
       (SELECT COALESCE(json_agg(json_build_object('spoolId', r.spool_id, 'idx', r.idx,
                 'mailFrom', r.mail_from, 'address', sr.address)), '[]')
          FROM r JOIN spool_recipients sr ON sr.spool_id = r.spool_id AND sr.rcpt_index = r.idx
          WHERE r.inputs & ${SCRIPT_INPUTS.envelope} <> 0) AS envelopes,
       (SELECT COALESCE(json_agg(json_build_object('ord', l.ord, 'id', l.id, 'name', l.name)), '[]')
          FROM (${mailboxLookupsSql(p.hints)}) l) AS fileinto,
       c.body_ids, c.body_lengths, c.body_data
     FROM (SELECT array_agg(b.body_id ORDER BY b.body_id, b.seq) AS body_ids,
                  array_agg(length(b.data) ORDER BY b.body_id, b.seq) AS body_lengths,
                  string_agg(b.data, ''::bytea ORDER BY b.body_id, b.seq) AS body_data
           FROM ((${bodyChunksSql(`(SELECT array_agg(body_id) FROM need WHERE inputs & ${SCRIPT_INPUTS.message} <> 0)`)})
                 UNION ALL
                 (${bodyHeaderChunksSql(
                   `(SELECT array_agg(body_id) FROM need WHERE inputs & ${SCRIPT_INPUTS.message | SCRIPT_INPUTS.header} = ${SCRIPT_INPUTS.header})`,
                 )})) b) c`;

/**
 * Runs the filters (domain before, the user's active script, domain after) of every recipient that
 * has any, and turns their actions into copies and outgoing messages. Recipients without scripts
 * are absent from the result and delivered as before. A script that fails (error, time budget) is
 * logged and the message is kept: a filter never loses a message.
 */
export async function filterRecipients(
  client: PoolClient,
  options: SieveDeliveryOptions,
  logger: Logger,
  items: readonly FilterInput[],
  /** Keep targets the batch has resolved, by `${accountId}\0${target}`. */
  knownKeepTargets: ReadonlyMap<string, MailboxRef> = new Map(),
  now: Date = new Date(),
  /** The batch's filter inputs when already read (filterReadSql, a superset of the items' is fine). */
  given?: FilterRead,
): Promise<Map<string, FilterOutcome>> {
  const out = new Map<string, FilterOutcome>();
  if (items.length === 0) return out;
  const accountIds = [...new Set(items.map((i) => i.accountId))];
  // Every existing account has scripts to run (at least the default after-script), so the batch's
  // reads are made for all its recipients, in ONE statement on the batch's session (a second session
  // per batch could exhaust the pool when MDA_CONCURRENCY batches each hold one; every further round
  // trip is a wait per batch): mda reads it with the batch's facts (filterReadSql).
  let read = given;
  if (!read) {
    const hinted = fileintoHintsFor(accountIds);
    const { rows } = await client.query<Omit<FilterRead, 'hinted'>>({
      text: filterReadSql({
        accountIds: '$1',
        spoolIds: '$2',
        rcptIndexes: '$3',
        recipientAccounts: '$4',
        hints: { accountIds: '$5', mailboxIds: '$6', specialUses: '$7', names: '$8' },
      }),
      values: [
        accountIds,
        items.map((i) => i.spoolId),
        items.map((i) => i.rcptIndex),
        items.map((i) => i.accountId),
        ...mailboxLookupsValues(hinted),
      ],
    });
    read = { ...rows[0]!, hinted };
  }
  // What the hinted fileinto lookups found, by lookup.
  const prefetched = new Map<string, MailboxRef>();
  for (const row of read.fileinto) {
    const lookup = read.hinted[row.ord - 1];
    if (lookup) prefetched.set(lookupKey(lookup), { id: Number(row.id), name: row.name });
  }
  const scripts = await resolveDeliveryScripts(client, accountIds, read.scripts, (digest) =>
    compiledCache.get(digest),
  );
  const bodyData = read.body_data ?? Buffer.alloc(0);
  let at = 0;
  const bodies = joinBodyChunks(
    (read.body_ids ?? []).map((bodyId, i) => {
      const length = read.body_lengths![i]!;
      at += length;
      return { bodyId: Number(bodyId), data: bodyData.subarray(at - length, at) };
    }),
  );
  // An account's mailbox list (mailbox tests, a fileinto the batch lookup did not find) is read when
  // a script needs it, for all the batch's accounts in one statement.
  let mailboxesOf: Promise<Map<number, KnownMailbox[]>> | undefined;
  const knownOf = async (accountId: number) => {
    mailboxesOf ??= listMailboxesOf(client, accountIds);
    return (await mailboxesOf).get(accountId) ?? [];
  };
  const junk = new Set(read.junk);
  const filtered = items.filter((i) => scripts.has(i.accountId));
  const envelope = new Map(read.envelopes.map((e) => [`${e.spoolId}/${e.idx}`, e]));
  // Mailbox lookups are shared by the batch's recipients (most keep into the same few mailboxes);
  // keep targets the batch resolved already are known.
  // A lookup answered (by the batch's reads or a query that finished) is held as the mailbox itself,
  // so that most recipients' actions apply without waiting.
  const mailboxes = new Map<string, MailboxRef | Promise<MailboxRef>>();
  for (const [key, box] of knownKeepTargets) mailboxes.set(`keep\u0000${key}`, box);
  const batch: BatchContext = {
    client,
    options,
    logger,
    now,
    duplicatesRecorded: new Set(),
    known: knownOf,
    mailbox: (key, find) => {
      let found = mailboxes.get(key);
      if (!found) {
        const finding = find();
        found = finding;
        mailboxes.set(key, finding);
        finding.then(
          (box) => mailboxes.set(key, box),
          () => {},
        );
      }
      return found;
    },
  };
  // What a recipient's run needs of its account (the scripts in order, the host's callbacks) is made
  // once per account for the batch; what it needs of its message (the spam verdict) once per message.
  const accountRuns = new Map<number, AccountRun>();
  const spamOf = new Map<string, ReturnType<typeof spamTestOf>>();
  // The message as the scripts read it, parsed once for all its recipients' runs.
  const parsedOf = new Map<number, ParsedMessage>();
  const runs: Array<{ context: RunContext; result: SieveResult; ms: number }> = [];
  for (const item of filtered) {
    const started = performance.now();
    const account = scripts.get(item.accountId)!;
    const env = read.envelopes.length > 0 ? envelope.get(`${item.spoolId}/${item.rcptIndex}`) : undefined;
    const raw = bodies.get(item.bodyId) ?? EMPTY;
    let parsed = parsedOf.get(item.bodyId);
    if (!parsed) {
      parsed = new ParsedMessage(raw);
      parsedOf.set(item.bodyId, parsed);
    }
    let spam = spamOf.get(item.spoolId);
    if (spam === undefined && !spamOf.has(item.spoolId)) {
      spam = spamTestOf(
        read.spam_statuses[item.spoolId] ?? firstHeaderValue(raw, 'x-spam-status'),
        junk.has(item.spoolId),
      );
      spamOf.set(item.spoolId, spam);
    }
    const context: RunContext = {
      batch,
      item,
      account,
      raw,
      envelopeFrom: env?.mailFrom ?? '',
      envelopeTo: env?.address ?? account.address,
    };
    let result: SieveResult;
    try {
      // (inside the try: a compiled form that does not load fails the run, and the message is kept)
      let accountRun = accountRuns.get(item.accountId);
      if (!accountRun) {
        accountRun = accountRunOf(batch, account);
        accountRuns.set(item.accountId, accountRun);
      }
      const ran = evaluateSieveScripts(
        accountRun.scripts,
        { raw, parsed, size: item.size, envelopeFrom: context.envelopeFrom, envelopeTo: context.envelopeTo },
        new DeliveryEnvironment(batch, account, accountRun.subaddressSeparator, spam),
      );
      result = ran instanceof Promise ? await ran : ran;
    } catch (error) {
      result = {
        actions: [{ kind: 'keep', flags: [] }],
        duplicates: [],
        errors: [{ line: 0, column: 0, message: String(error) }],
      };
    }
    if (result.notices)
      logger.info(
        { spoolId: item.spoolId, accountId: item.accountId, notices: result.notices },
        'sieve script errors that did not stop it',
      );
    if (result.errors.length > 0) {
      options.metrics?.failures.inc();
      logger.warn(
        {
          spoolId: item.spoolId,
          rcptIndex: item.rcptIndex,
          accountId: item.accountId,
          errors: result.errors,
        },
        'sieve script failed; message kept',
      );
    }
    for (const d of result.duplicates) batch.duplicatesRecorded.add(`${item.accountId}\u0000${d.id}`);
    runs.push({ context, result, ms: performance.now() - started });
  }
  await lookupFileintoTargets(client, runs, mailboxes, prefetched);
  // Metrics once per batch (a counter per action kind), the run time per recipient.
  const actions = new Map<SieveAction['kind'], number>();
  for (const { context, result, ms } of runs) {
    const started = performance.now();
    const applied = new ActionsApplied(context, result).from(0);
    out.set(context.item.key, applied instanceof Promise ? await applied : applied);
    for (const action of result.actions) actions.set(action.kind, (actions.get(action.kind) ?? 0) + 1);
    options.metrics?.seconds.observe((ms + performance.now() - started) / 1e3);
  }
  if (options.metrics) {
    options.metrics.runs.inc(runs.length);
    for (const [kind, n] of actions) options.metrics.actions.inc({ kind }, n);
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

/** What the runs of one batch share: its session, limits, clock and mailbox lookups. */
interface BatchContext {
  client: PoolClient;
  options: SieveDeliveryOptions;
  logger: Logger;
  now: Date;
  /** An account's mailboxes as the batch read them, on first use (lookups not answered here query). */
  known(accountId: number): Promise<readonly KnownMailbox[]>;
  /**
   * A mailbox lookup, done once per batch for the same key: the mailbox when the batch knows it
   * already, else a promise of it.
   */
  mailbox(key: string, find: () => Promise<MailboxRef>): MailboxRef | Promise<MailboxRef>;
  /**
   * `duplicate` ids (account, NUL, id) the batch's earlier runs will record: a second copy of a
   * message in the same batch is a duplicate of the first (RFC 7352), though neither is stored yet.
   */
  duplicatesRecorded: Set<string>;
}

/** One account's scripts in the order they run and the environment they run in, for a batch. */
interface AccountRun {
  scripts: CompiledScript[];
  subaddressSeparator: string;
}

function accountRunOf(batch: BatchContext, account: DeliveryScripts<CompiledScript>): AccountRun {
  const scripts: CompiledScript[] = [];
  for (const script of [account.before, account.personal, account.after])
    if (script !== undefined) scripts.push(compiled(script));
  return { scripts, subaddressSeparator: batch.options.subaddressSeparator(account.domain) };
}

const DURING = { phase: 'during' };

/**
 * What a recipient's run sees of delivery (SieveEnvironment): its host callbacks are methods, not
 * closures made for every account of every batch, and the object is built field by field (never
 * `{ ...env, spamScore }`, which V8 copies on its slow path, microseconds per recipient).
 */
class DeliveryEnvironment implements SieveEnvironment {
  readonly now: Date;
  readonly domain: string;
  readonly host: string;
  readonly environment = DURING;
  readonly timeBudgetMs: number;
  readonly maxActions: number;
  readonly maxRedirects: number;
  readonly spamScore: number | undefined;
  readonly spamPercent: number | undefined;
  readonly userAddresses: readonly string[];
  readonly vacationMinSeconds: number | undefined;
  readonly vacationMaxSeconds: number | undefined;

  constructor(
    private readonly batch: BatchContext,
    private readonly account: DeliveryScripts<CompiledScript>,
    readonly subaddressSeparator: string,
    spam: ReturnType<typeof spamTestOf>,
  ) {
    const { options } = batch;
    this.now = batch.now;
    this.domain = account.domain;
    this.host = options.hostname;
    this.timeBudgetMs = options.timeBudgetMs;
    this.maxActions = options.maxActions;
    this.maxRedirects = options.maxRedirects;
    this.spamScore = spam?.score;
    this.spamPercent = spam?.percent;
    this.userAddresses =
      account.aliases.length > 0 ? [account.address, ...account.aliases] : [account.address];
    this.vacationMinSeconds = options.vacationMinSeconds;
    this.vacationMaxSeconds = options.vacationMaxSeconds;
  }

  async mailboxExists(name: string): Promise<boolean> {
    const { batch, account } = this;
    return (
      (await batch.known(account.accountId)).some((m) => m.name === normaliseMailbox(name)) ||
      (await findMailbox(batch.client, account.accountId, normaliseMailbox(name))) !== undefined
    );
  }

  async specialUseExists(name: string | undefined, flags: string[]): Promise<boolean> {
    const { rows } = await this.batch.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM mailboxes WHERE account_id = $1 AND ($2::text IS NULL OR name = $2)
         AND special_use = ANY($3::text[])`,
      [this.account.accountId, name === undefined ? null : normaliseMailbox(name), flags],
    );
    return (rows[0]?.n ?? 0) >= new Set(flags).size;
  }

  get duplicateTracker(): DuplicateTracker {
    const { batch, account } = this;
    return {
      seen: async (id) =>
        batch.duplicatesRecorded.has(`${account.accountId}\u0000${id}`) ||
        (await seenDuplicates(batch.client, account.accountId, [id], batch.now)).has(id),
    };
  }
}

/** The batch's key of a fileinto's mailbox (BatchContext.mailbox): what fileintoTarget goes by. */
const fileintoKey = (item: FilterInput, action: Extract<SieveAction, { kind: 'fileinto' }>): string =>
  `fileinto\u0000${item.accountId}\u0000${item.mailboxTarget}\u0000${action.mailbox}\u0000${action.mailboxId ?? ''}\u0000${action.specialUse ?? ''}\u0000${action.create ? 1 : 0}`;

/**
 * The mailboxes the batch's runs file into: found by the batch's facts statement for the lookups
 * their accounts' runs made before (`prefetched`, see fileintoHintsFor), else looked up in one
 * statement (by mailbox id, special use, name: fileintoTarget's order) once every script ran; what
 * neither finds (a mailbox to create, or to keep instead) is settled per action by fileintoTarget.
 */
async function lookupFileintoTargets(
  client: PoolClient,
  runs: ReadonlyArray<{ context: RunContext; result: SieveResult }>,
  mailboxes: Map<string, MailboxRef | Promise<MailboxRef>>,
  prefetched: ReadonlyMap<string, MailboxRef>,
): Promise<void> {
  const wanted = new Map<string, MailboxLookup>();
  for (const { context, result } of runs)
    for (const action of result.actions) {
      if (action.kind !== 'fileinto') continue;
      const key = fileintoKey(context.item, action);
      if (mailboxes.has(key) || wanted.has(key)) continue;
      const lookup: MailboxLookup = {
        accountId: context.item.accountId,
        ...(action.mailboxId && /^\d{1,15}$/.test(action.mailboxId) ? { id: Number(action.mailboxId) } : {}),
        ...(action.specialUse ? { specialUse: action.specialUse } : {}),
        name: normaliseMailbox(action.mailbox),
      };
      const lk = lookupKey(lookup);
      rememberFileinto(lookup, lk);
      const found = prefetched.get(lk);
      if (found) mailboxes.set(key, found);
      else wanted.set(key, lookup);
    }
  if (wanted.size === 0) return;
  const found = await findMailboxesFor(client, [...wanted.values()]);
  [...wanted.keys()].forEach((key, i) => {
    const box = found[i];
    if (box) mailboxes.set(key, box);
  });
}

/** One recipient's filter run: what the scripts see and what applying their actions needs. */
interface RunContext {
  batch: BatchContext;
  item: FilterInput;
  account: DeliveryScripts<CompiledScript>;
  /** The message, or its header section when the scripts read no more (compiledInputs). */
  raw: Buffer;
  envelopeFrom: string;
  envelopeTo: string;
}

/**
 * One recipient's actions turned into its copies and outgoing messages, in order: synchronously while
 * the mailboxes they need are known to the batch (most recipients), from the first that is not as a
 * promise.
 */
class ActionsApplied {
  private readonly outcome: FilterOutcome;
  private readonly ended: string[] = [];
  /** The header fields, parsed only for the actions that read them (redirect, reject, vacation, notify). */
  private parsed: ReturnType<typeof headerFields> | undefined;

  constructor(
    private readonly context: RunContext,
    private readonly result: SieveResult,
  ) {
    this.outcome = { copies: [], outgoing: [], duplicates: result.duplicates };
    if (result.modifiedMessage) this.outcome.modified = result.modifiedMessage;
  }

  /** Applies the actions from index `i` on. */
  from(i: number): FilterOutcome | Promise<FilterOutcome> {
    const { actions } = this.result;
    for (; i < actions.length; i++) {
      const action = actions[i]!;
      const box =
        action.kind === 'keep'
          ? this.keepTarget()
          : action.kind === 'fileinto'
            ? this.fileintoTarget(action)
            : undefined;
      if (box instanceof Promise) {
        const next = i;
        return box.then((found) => {
          this.addCopy(found, (action as { flags: string[] }).flags);
          return this.from(next + 1);
        });
      }
      if (box) this.addCopy(box, (action as { flags: string[] }).flags);
      else {
        const waiting = this.other(action);
        if (waiting) {
          const next = i;
          return waiting.then(() => this.from(next + 1));
        }
      }
    }
    if (this.outcome.copies.length === 0) this.outcome.ended = this.ended.join('; ') || 'no action';
    return this.outcome;
  }

  private fields(): ReturnType<typeof headerFields> {
    this.parsed ??= headerFields(this.context.raw);
    return this.parsed;
  }

  private keepTarget(): MailboxRef | Promise<MailboxRef> {
    const { batch, item } = this.context;
    return batch.mailbox(`keep\u0000${item.accountId}\u0000${item.mailboxTarget}`, () =>
      resolveMailbox(batch.client, item.accountId, item.mailboxTarget),
    );
  }

  private fileintoTarget(
    action: Extract<SieveAction, { kind: 'fileinto' }>,
  ): MailboxRef | Promise<MailboxRef> {
    const { batch, item } = this.context;
    return batch.mailbox(fileintoKey(item, action), async () =>
      fileintoTarget(
        batch.client,
        item.accountId,
        action,
        item.mailboxTarget,
        batch.logger,
        await batch.known(item.accountId),
      ),
    );
  }

  private addCopy(mailbox: MailboxRef, given: string[]): void {
    const flags = given.filter(isStorableFlag).map(canonicalFlag);
    const same = this.outcome.copies.find((c) => c.mailbox.id === mailbox.id);
    if (same) same.flags = [...new Set([...same.flags, ...flags])];
    else this.outcome.copies.push({ mailbox, flags: [...new Set(flags)] });
  }

  /** An action that files nothing by itself; a promise when it has to wait (a redirect loop's keep). */
  private other(action: SieveAction): Promise<void> | undefined {
    const { batch, item, account, raw, envelopeFrom, envelopeTo } = this.context;
    const { options, logger } = batch;
    const message = this.result.modifiedMessage ?? raw;
    const recipientDomain = account.domain;
    switch (action.kind) {
      case 'discard':
        this.ended.push('discarded by filter');
        return;
      case 'redirect': {
        // Loop protection: a copy that already passed this recipient is not redirected again.
        if (
          this.fields().some(
            (f) => f.name === 'delivered-to' && f.value.toLowerCase() === envelopeTo.toLowerCase(),
          )
        ) {
          logger.warn({ spoolId: item.spoolId, to: action.address }, 'sieve redirect loop; kept instead');
          const box = this.keepTarget();
          if (box instanceof Promise) return box.then((found) => this.addCopy(found, []));
          this.addCopy(box, []);
          return;
        }
        this.outcome.outgoing.push({
          kind: 'redirect',
          accountId: item.accountId,
          mailFrom: options.rewriteSender(envelopeFrom, recipientDomain),
          forwardedFrom: recipientDomain,
          to: action.address,
          body: Buffer.concat([Buffer.from(`Delivered-To: ${envelopeTo}\r\n`), message]),
        });
        this.ended.push(`redirected to ${action.address}`);
        return;
      }
      case 'reject': {
        this.ended.push('rejected by filter');
        if (envelopeFrom === '') return; // never a notice to the null sender
        const auto = this.fields().find((f) => f.name === 'auto-submitted')?.value;
        if (auto && !/^no\b/i.test(auto)) return;
        this.outcome.outgoing.push({
          kind: 'reject',
          accountId: item.accountId,
          mailFrom: '',
          to: envelopeFrom,
          body: buildRejectNotice({
            recipient: envelopeTo,
            to: envelopeFrom,
            reason: action.reason,
            originalHeader: headerBlock(raw),
            hostname: options.hostname,
          }),
        });
        return;
      }
      case 'vacation': {
        // whether to answer at all (RFC 3834, RFC 5230 4.5-4.6) the engine decided: an action here is one to send
        this.outcome.outgoing.push({
          kind: 'vacation',
          accountId: item.accountId,
          mailFrom: '',
          to: envelopeFrom,
          body: buildVacationReply({
            from: action.from ?? envelopeTo,
            to: envelopeFrom,
            ...(action.subject !== undefined ? { subject: action.subject } : {}),
            reason: action.reason,
            mime: action.mime,
            original: this.fields(),
            hostname: options.hostname,
          }),
          claim: {
            accountId: item.accountId,
            handle: action.handle,
            sender: envelopeFrom,
            seconds: action.seconds,
          },
        });
        return;
      }
      case 'notify': {
        const notice = buildMailtoNotification({
          method: action.method,
          from: action.from ?? envelopeTo,
          ...(action.message !== undefined ? { message: action.message } : {}),
          ...(action.importance !== undefined ? { importance: action.importance } : {}),
          original: this.fields(),
          hostname: options.hostname,
        });
        if (!notice) {
          logger.info({ spoolId: item.spoolId, method: action.method }, 'sieve notify method not usable');
          return;
        }
        for (const to of notice.recipients)
          this.outcome.outgoing.push({
            kind: 'notify',
            accountId: item.accountId,
            mailFrom: '',
            to,
            body: notice.body,
          });
        return;
      }
    }
    return undefined;
  }
}
