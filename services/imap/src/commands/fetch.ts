import type { MessageMeta } from '@hermod/mail-store';
import { requireSelected, selectedOwner } from '../acl/access.js';
import { decodeEntityParts } from '../mime/binary-parts.js';
import { formatBodyStructure, formatEnvelope } from '../mime/format-structure.js';
import { splitHeaderFields } from '../mime/header-fields.js';
import type { CachedStructure } from '../mime/parse-mime.js';
import { PREVIEW_SOURCE_BYTES, previewPart, previewText } from '../mime/preview.js';
import { formatSection, parseSection, resolvePart, type Section, sectionRange } from '../mime/sections.js';
import { decodeTransfer, UnknownEncodingError } from '../mime/transfer-decode.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { imapDateTime, imapString } from '../protocol/compose.js';
import { BadArgumentsError, CommandFailedError } from '../protocol/errors.js';
import { emailObjectId } from '../protocol/object-id.js';
import type { Token } from '../protocol/parser.js';
import { formatSequenceSet, inSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';
import type { CommandContext } from '../session/command-context.js';
import { defineCommand, ok } from './command.js';

type SimpleItem =
  | 'UID'
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'SAVEDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODYSTRUCTURE'
  | 'BODY'
  | 'MODSEQ'
  | 'EMAILID'
  | 'THREADID';

export type FetchItem =
  | { kind: 'simple'; name: SimpleItem }
  /** PREVIEW (RFC 8970); LAZY is accepted and served the same way (the text is always computed). */
  | { kind: 'preview' }
  | {
      kind: 'binary';
      path: number[];
      /** A section text (HEADER, HEADER.FIELDS, TEXT, MIME): sent as BODY[...] would, undecoded. */
      section?: Section;
      peek: boolean;
      sizeOnly: boolean;
      partial?: { start: number; count: number };
    }
  | {
      kind: 'section';
      label: string;
      section: Section;
      peek: boolean;
      partial?: { start: number; count: number };
    };

export interface FetchArgs {
  set: SequenceSet | '$';
  items: FetchItem[];
  changedSince?: number;
  /** QRESYNC: also report UIDs of the set expunged since changedSince. */
  vanished?: boolean;
}

const MACROS: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE = new Set<string>([
  'UID',
  'FLAGS',
  'INTERNALDATE',
  'SAVEDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'MODSEQ',
  'EMAILID',
  'THREADID',
]);
const BINARY_ITEM =
  /^(BINARY|BINARY\.PEEK|BINARY\.SIZE)\[((?:[1-9]\d{0,8})(?:\.[1-9]\d{0,8})*)?\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?$/i;
const SECTION_ITEM = /^(BODY|BODY\.PEEK)\[([^\]]*(?:\([^)]*\))?[^\]]*)\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?$/i;
const BINARY_SECTION_ITEM =
  /^(BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*(?:\([^)]*\))?[^\]]*)\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?$/i;

/**
 * partial = "<" offset "." length ">"; "<" offset ">" alone (outside the grammar, sent by some
 * clients) is read as everything from the offset on.
 */
const partialOf = (offset: string, length: string | undefined) => ({
  start: Number(offset),
  count: length === undefined ? Number.POSITIVE_INFINITY : Number(length),
});

function parseItem(text: string): FetchItem[] {
  const upper = text.toUpperCase();
  if (SIMPLE.has(upper)) return [{ kind: 'simple', name: upper as SimpleItem }];
  if (upper === 'RFC822')
    return [{ kind: 'section', label: 'RFC822', section: parseSection(''), peek: false }];
  if (upper === 'RFC822.HEADER')
    return [{ kind: 'section', label: 'RFC822.HEADER', section: parseSection('HEADER'), peek: true }];
  if (upper === 'RFC822.TEXT')
    return [{ kind: 'section', label: 'RFC822.TEXT', section: parseSection('TEXT'), peek: false }];
  const binary = BINARY_ITEM.exec(text) ?? BINARY_SECTION_ITEM.exec(text);
  if (binary) {
    // RFC 3516's section-binary is a part number; a section text after it (as BODY[] takes) is
    // accepted too and names bytes that are not one part's content, so they are sent undecoded.
    const section = parseSection(binary[2] ?? '');
    const sizeOnly = binary[1]!.toUpperCase() === 'BINARY.SIZE';
    if (sizeOnly && binary[3] !== undefined) throw new BadArgumentsError('BINARY.SIZE takes no partial');
    const item: FetchItem = {
      kind: 'binary',
      path: section.path,
      peek: binary[1]!.toUpperCase() !== 'BINARY',
      sizeOnly,
    };
    if (section.kind !== 'full') item.section = section;
    if (binary[3] !== undefined) item.partial = partialOf(binary[3], binary[4]);
    return [item];
  }
  const m = SECTION_ITEM.exec(text);
  if (!m) throw new BadArgumentsError(`Invalid FETCH item ${text.slice(0, 40)}`);
  const section = parseSection(m[2]!);
  const item: FetchItem = {
    kind: 'section',
    label: `BODY[${formatSection(section)}]`,
    section,
    peek: m[1]!.toUpperCase() === 'BODY.PEEK',
  };
  if (m[3] !== undefined) {
    item.partial = partialOf(m[3], m[4]);
    if (item.partial.count === 0) throw new BadArgumentsError('Partial length must be positive');
  }
  return [item];
}

/**
 * A FETCH item list: one item, a macro (ALL, FAST, FULL) or a parenthesised list (also used by
 * NOTIFY's MessageNew, RFC 5465 section 5.2).
 */
export function parseFetchItems(spec: Token): FetchItem[] {
  const items: FetchItem[] = [];
  const atoms: Token[] = spec.type === 'list' ? spec.items : [spec];
  for (let i = 0; i < atoms.length; i++) {
    const token = atoms[i]!;
    if (token.type !== 'atom') throw new BadArgumentsError('Invalid FETCH item');
    if (token.value.toUpperCase() === 'PREVIEW') {
      // fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY"
      const mods = atoms[i + 1];
      if (mods?.type === 'list') {
        i++;
        if (
          mods.items.length === 0 ||
          mods.items.some((m) => m.type !== 'atom' || m.value.toUpperCase() !== 'LAZY')
        )
          throw new BadArgumentsError('Invalid PREVIEW modifier');
      }
      items.push({ kind: 'preview' });
      continue;
    }
    const macro = spec.type === 'atom' ? MACROS[token.value.toUpperCase()] : undefined;
    if (macro) items.push(...macro.map((name) => ({ kind: 'simple', name }) as FetchItem));
    else items.push(...parseItem(token.value));
  }
  if (items.length === 0) throw new BadArgumentsError('No FETCH items');
  return items;
}

/**
 * Attributes the server fetches unasked (NOTIFY MessageNew, RFC 5465 section 5.2; SEARCH/SORT
 * RETURN (UPDATE (...)), section 7): they never set \Seen, and carry MODSEQ once CONDSTORE is on.
 */
export function unsolicitedFetchItems(items: FetchItem[], condstore: boolean): FetchItem[] {
  const out = items.map((item) =>
    item.kind === 'section' || item.kind === 'binary' ? { ...item, peek: true } : item,
  );
  if (condstore && !out.some((i) => i.kind === 'simple' && i.name === 'MODSEQ'))
    out.push({ kind: 'simple', name: 'MODSEQ' });
  return out;
}

export function parseFetchArgs(
  args: ArgumentCursor,
  condstore: boolean,
  qresync = false,
  byUid = false,
): FetchArgs {
  const set = args.sequenceSet();
  const items = parseFetchItems(args.next('fetch items'));
  const result: FetchArgs = { set, items };
  const modifiers = args.optionalList();
  const list = modifiers?.items ?? [];
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    const key = name?.type === 'atom' ? name.value.toUpperCase() : '';
    if (key === 'CHANGEDSINCE' && condstore) {
      const value = list[++i];
      if (value?.type !== 'atom' || !/^\d{1,19}$/.test(value.value))
        throw new BadArgumentsError('Invalid CHANGEDSINCE');
      result.changedSince = Number(value.value);
      if (!items.some((it) => it.kind === 'simple' && it.name === 'MODSEQ'))
        items.push({ kind: 'simple', name: 'MODSEQ' });
    } else if (key === 'VANISHED' && qresync) {
      result.vanished = true;
    } else throw new BadArgumentsError('Invalid FETCH modifier');
  }
  if (result.vanished && (!byUid || result.changedSince === undefined))
    throw new BadArgumentsError('VANISHED needs UID FETCH with CHANGEDSINCE');
  args.end();
  return result;
}

const BATCH = 100;
const NO_FLAGS: string[] = [];
/**
 * Items always read from PostgreSQL: flags and modseq change; the save date does not through IMAP,
 * but is a column an administrator may set (a restore), so it is not taken from memory either.
 */
const READ_AFRESH = new Set<SimpleItem>(['FLAGS', 'MODSEQ', 'SAVEDATE']);

export async function runFetch(session: CommandContext, args: FetchArgs, byUid: boolean) {
  const box = session.selected!;
  if (!byUid && box.sequenceOutOfRange(args.set))
    return { status: 'BAD' as const, text: 'Invalid message sequence number' };
  const uids = box.resolve(args.set, byUid);
  const items = [...args.items];
  if (args.vanished && args.changedSince !== undefined && args.set !== '$') {
    const set = args.set;
    const gone = (await session.backend.expungedSince(box.id, args.changedSince)).filter((uid) =>
      inSequenceSet(set, uid, box.maxUid),
    );
    if (gone.length > 0) session.untagged(`VANISHED (EARLIER) ${formatSequenceSet(gone)}`);
  }
  // UID FETCH answers with the UID; under UIDONLY it heads the response instead (RFC 9586 3.3).
  if (byUid && !session.uidOnly && !items.some((i) => i.kind === 'simple' && i.name === 'UID'))
    items.unshift({ kind: 'simple', name: 'UID' });
  if (items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) session.enable('CONDSTORE');
  // FETCH needs r; the implicit \Seen of a non-PEEK body fetch needs s (else it is a PEEK).
  const rights = await requireSelected(session, 'r');
  const marksSeen =
    !box.readOnly &&
    rights.includes('s') &&
    items.some((i) => (i.kind === 'section' || (i.kind === 'binary' && !i.sizeOnly)) && !i.peek);
  const uidOnlyItems =
    !session.uidOnly && items.every((item) => item.kind === 'simple' && item.name === 'UID');
  // Items that do not change (no flags, no modseq, no \Seen to set): from memory when all is there.
  const unchanging =
    !marksSeen &&
    args.changedSince === undefined &&
    items.every((i) => i.kind !== 'simple' || !READ_AFRESH.has(i.name));
  const need = {
    structure: needsStructure(items),
    body: items.some((i) => i.kind !== 'simple'),
  };
  let missedExpunged = false;
  for (let i = 0; i < uids.length; i += BATCH) {
    const batch = uids.slice(i, i + BATCH);
    const remembered = unchanging ? session.backend.messagesInMemory(box.id, batch, need) : undefined;
    // Flags and modseq are not among the items, so none are needed from the facts.
    let metas =
      remembered?.map((facts) => ({ ...facts, flags: NO_FLAGS, modseq: 0 })) ??
      (await session.backend.messages(box.id, batch));
    if (args.changedSince !== undefined) metas = metas.filter((m) => m.modseq > args.changedSince!);
    // Parsed structures of the whole batch in one round trip rather than one per message.
    if (needsStructure(items)) await session.backend.prefetchStructures(metas.map((m) => m.bodyId));
    const flagged = new Set<number>();
    if (marksSeen) {
      const unseen = metas.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length > 0) {
        const update = await session.backend.updateFlags(selectedOwner(session), box.id, unseen, 'add', [
          '\\Seen',
        ]);
        box.ownChange(update.modseq);
        const changed = new Map(update.changed.map((c) => [c.uid, c]));
        metas = metas.map((m) => {
          const c = changed.get(m.uid);
          if (!c) return m;
          flagged.add(m.uid);
          return { ...m, flags: c.flags, modseq: c.modseq };
        });
      }
    }
    const metaOf = new Map(metas.map((m) => [m.uid, m]));
    for (const uid of uids.slice(i, i + BATCH)) {
      const seq = box.seqOf(uid);
      if (seq === 0) continue;
      const meta = metaOf.get(uid);
      if (meta) {
        await writeMessage(session, seq, meta, flagged.has(uid) ? withFlagChange(session, items) : items);
      } else if (args.changedSince === undefined && uidOnlyItems) {
        // Expunged by another session but not yet reported to this one: the UID is still known from
        // this session's view, so it is answered (RFC 2180 4.1.1) and the client can map the message.
        await send(session, `* ${session.fetchHead(seq, uid)} (UID ${uid})\r\n`);
      } else if (args.changedSince === undefined) {
        missedExpunged = true;
      }
    }
  }
  // What could not be answered was expunged by another session (RFC 5530, RFC 2180 4.1; Dovecot too).
  if (missedExpunged)
    return ok(
      `${byUid ? 'UID FETCH' : 'FETCH'} completed, some messages were already expunged`,
      'EXPUNGEISSUED',
    );
  return ok(`${byUid ? 'UID FETCH' : 'FETCH'} completed`);
}

/**
 * The items of a FETCH response that also reports the implicit \Seen it caused: FLAGS, and once
 * CONDSTORE is enabled UID and MODSEQ as for every flag change (RFC 7162 3.1).
 */
function withFlagChange(session: CommandContext, items: FetchItem[]): FetchItem[] {
  const has = (name: SimpleItem) => items.some((it) => it.kind === 'simple' && it.name === name);
  const condstore = session.enabled.has('CONDSTORE');
  const out = [...items];
  if (condstore && !has('UID') && !session.uidOnly) out.unshift({ kind: 'simple', name: 'UID' });
  if (!has('FLAGS')) out.push({ kind: 'simple', name: 'FLAGS' });
  if (condstore && !has('MODSEQ')) out.push({ kind: 'simple', name: 'MODSEQ' });
  return out;
}

const STRUCTURE_ITEMS = new Set<SimpleItem>(['ENVELOPE', 'BODYSTRUCTURE', 'BODY']);

function needsStructure(items: FetchItem[]): boolean {
  return items.some(
    (i) =>
      (i.kind === 'simple' && STRUCTURE_ITEMS.has(i.name)) ||
      (i.kind === 'section' && (i.section.kind !== 'full' || i.section.path.length > 0)) ||
      i.kind === 'binary' ||
      i.kind === 'preview',
  );
}

async function writeMessage(
  session: CommandContext,
  seq: number,
  meta: MessageMeta,
  items: FetchItem[],
): Promise<void> {
  let structure: CachedStructure | undefined;
  if (needsStructure(items))
    structure =
      session.backend.cachedStructure(meta.bodyId) ?? (await session.backend.structure(meta.bodyId));
  // Any FLAGS untagged response must come before this FETCH starts, never inside it.
  session.announceKeywords(meta.flags);
  let line = `* ${session.fetchHead(seq, meta.uid)} (`;
  let first = true;
  const sep = () => {
    const s = first ? '' : ' ';
    first = false;
    return s;
  };
  for (const item of items) {
    if (item.kind === 'simple') {
      line += sep() + simpleValue(session, item.name, meta, structure);
      continue;
    }
    if (item.kind === 'preview') {
      line += `${sep()}PREVIEW ${imapString(await preview(session, meta, structure!))}`;
      continue;
    }
    if (item.kind === 'binary') {
      const decoded = item.section
        ? await sectionBuffer(session, meta, structure, item.section)
        : binaryContent(await session.backend.loadBody(meta.bodyId), structure!, item.path);
      const section = `[${item.section ? formatSection(item.section) : item.path.join('.')}]`;
      if (item.sizeOnly) {
        line += `${sep()}BINARY.SIZE${section} ${decoded.length}`;
        continue;
      }
      const bytes = item.partial
        ? decoded.subarray(item.partial.start, item.partial.start + item.partial.count)
        : decoded;
      const label = `BINARY${section}${item.partial ? `<${item.partial.start}>` : ''}`;
      // literal8 only when the bytes need it (NUL), as RFC 3516 4.2 allows.
      line += `${sep()}${label} ${bytes.includes(0) ? '~' : ''}{${bytes.length}}\r\n`;
      await send(session, line);
      line = '';
      await send(session, bytes);
      continue;
    }
    const label = item.partial ? `${item.label}<${item.partial.start}>` : item.label;
    const content = await sectionContent(session, meta, structure, item);
    if (!content) {
      line += `${sep()}${label} ""`;
      continue;
    }
    line += `${sep()}${label} {${content.length}}\r\n`;
    const head = send(session, line);
    if (head) await head;
    line = '';
    if (Array.isArray(content.chunks)) {
      for (const chunk of content.chunks) {
        const wait = send(session, withoutNul(chunk));
        if (wait) await wait;
      }
    } else for await (const chunk of content.chunks) await send(session, withoutNul(chunk));
  }
  const wait = send(session, `${line})\r\n`);
  if (wait) await wait;
}

/**
 * Writes, and when the client is slow (write() answered false) gives what to wait for: FETCH writes
 * many pieces, and most are taken at once, so awaiting nothing then saves a promise per piece.
 */
function send(session: CommandContext, data: string | Buffer): Promise<void> | undefined {
  return session.write(data) ? undefined : session.drained();
}

function simpleValue(
  session: CommandContext,
  name: SimpleItem,
  meta: MessageMeta,
  structure: CachedStructure | undefined,
): string {
  switch (name) {
    case 'UID':
      return `UID ${meta.uid}`;
    case 'FLAGS':
      return `FLAGS ${session.formatFlags(meta.flags, meta.uid)}`;
    case 'INTERNALDATE':
      return `INTERNALDATE ${imapDateTime(meta.internalDate, meta.internalDateZone ?? 0)}`;
    case 'SAVEDATE':
      return `SAVEDATE ${imapDateTime(meta.savedDate)}`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${meta.size}`;
    case 'MODSEQ':
      return `MODSEQ (${meta.modseq})`;
    case 'EMAILID':
      return `EMAILID (${emailObjectId(meta.bodyId)})`;
    case 'THREADID':
      // Threads are not stored, which RFC 8474 5.2 answers with NIL.
      return 'THREADID NIL';
    case 'ENVELOPE':
      return `ENVELOPE ${formatEnvelope(structure!.root.envelope!)}`;
    case 'BODYSTRUCTURE':
      return `BODYSTRUCTURE ${formatBodyStructure(structure!.root, true)}`;
    case 'BODY':
      return `BODY ${formatBodyStructure(structure!.root, false)}`;
  }
}

interface Content {
  length: number;
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>;
}

async function sectionContent(
  session: CommandContext,
  meta: MessageMeta,
  structure: CachedStructure | undefined,
  item: Extract<FetchItem, { kind: 'section' }>,
): Promise<Content | undefined> {
  const range = structure ? sectionRange(structure.root, item.section) : { start: 0, end: meta.size };
  if (!range) return undefined;
  // Within the top-level header: served from the backend's header cache.
  const bodyStart = structure?.root.bodyStart;
  const inRootHeader = bodyStart !== undefined && range.end <= bodyStart;
  const rootHeader = (): Buffer | Promise<Buffer> => {
    const cut = (header: Buffer) => header.subarray(range.start, range.end);
    const hit = session.backend.cachedRootHeader(meta.bodyId, bodyStart!);
    return hit ? cut(hit) : session.backend.rootHeader(meta.bodyId, bodyStart!, meta.chunkSize).then(cut);
  };
  if (range.filter) {
    const header = inRootHeader
      ? await rootHeader()
      : Buffer.concat(
          await collect(session.backend.readRange(meta.bodyId, range.start, range.end, meta.chunkSize)),
        );
    const names = range.filter.names;
    const kept = splitHeaderFields(header, 0, header.length)
      .filter((f) => names.includes(f.name) !== range.filter!.exclude)
      .map((f) => header.subarray(f.start, f.end));
    let bytes = Buffer.concat([...kept, Buffer.from('\r\n')]);
    if (item.partial) bytes = bytes.subarray(item.partial.start, item.partial.start + item.partial.count);
    return bytes.length > 0 ? { length: bytes.length, chunks: [bytes] } : undefined;
  }
  let { start, end } = range;
  if (item.partial) {
    start = Math.min(end, start + item.partial.start);
    end = Math.min(end, start + item.partial.count);
  }
  if (end <= start) return undefined;
  if (inRootHeader) {
    const header = await rootHeader();
    const bytes = header.subarray(start - range.start, end - range.start);
    return { length: bytes.length, chunks: [bytes] };
  }
  const whole = start === 0 && end === meta.size;
  // A body in memory is sent as it is, without an async iteration over it.
  const cached = whole ? session.backend.cachedBody(meta.bodyId) : undefined;
  if (cached && cached.length === end) return { length: end, chunks: [cached] };
  return {
    length: end - start,
    chunks: whole
      ? session.backend.readBody(meta.bodyId)
      : session.backend.readRange(meta.bodyId, start, end, meta.chunkSize),
  };
}

/**
 * A literal is CHAR8 (RFC 9051 4.3, RFC 3501 9): no NUL. Binary content fetched as BODY[...] gets
 * each NUL replaced by 0x80, as Dovecot does, so every size and partial offset stays that of the
 * stored bytes; the exact bytes are what BINARY[...] is for (literal8, RFC 3516).
 */
function withoutNul(chunk: Buffer): Buffer {
  if (!chunk.includes(0)) return chunk;
  const copy = Buffer.from(chunk);
  for (let i = copy.indexOf(0); i >= 0; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
  return copy;
}

/**
 * The bytes of a message section as BODY.PEEK[section]<partial> would send them (no \Seen), or
 * undefined when the section does not exist (CATENATE's URL parts, RFC 4469).
 */
export async function sectionBytes(
  session: CommandContext,
  meta: MessageMeta,
  sectionText: string,
  partial?: { start: number; count: number },
): Promise<Buffer[] | undefined> {
  const section = parseSection(sectionText);
  const structure =
    section.kind === 'full' && section.path.length === 0
      ? undefined
      : await session.backend.structure(meta.bodyId);
  const item = { kind: 'section' as const, label: '', section, peek: true, ...(partial ? { partial } : {}) };
  const content = await sectionContent(session, meta, structure, item);
  if (!content) return structure && !sectionRange(structure.root, section) ? undefined : [];
  const chunks: Buffer[] = [];
  for await (const chunk of content.chunks) chunks.push(chunk);
  return chunks;
}

/** A section text's bytes for BINARY[...] (empty when the part does not exist). */
async function sectionBuffer(
  session: CommandContext,
  meta: MessageMeta,
  structure: CachedStructure | undefined,
  section: Section,
): Promise<Buffer> {
  const content = await sectionContent(session, meta, structure, {
    kind: 'section',
    label: '',
    section,
    peek: true,
  });
  const chunks: Buffer[] = [];
  if (content) for await (const chunk of content.chunks) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

export const fetchCommand = defineCommand({
  name: 'FETCH',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: (args, session) => parseFetchArgs(args, session.capabilities().includes('CONDSTORE')),
  run: (session, args) => runFetch(session, args, false),
});

export const uidFetchCommand = defineCommand({
  name: 'UID FETCH',
  states: ['selected'],
  parse: (args, session) =>
    parseFetchArgs(args, session.capabilities().includes('CONDSTORE'), session.enabled.has('QRESYNC'), true),
  run: (session, args) => runFetch(session, args, true),
});

/** The preview text of a message: from the first bytes of its preview part (one range read). */
async function preview(
  session: CommandContext,
  meta: MessageMeta,
  structure: CachedStructure,
): Promise<string> {
  const part = previewPart(structure.root);
  if (!part) return '';
  const end = Math.min(part.bodyEnd, part.bodyStart + PREVIEW_SOURCE_BYTES);
  const chunks: Buffer[] = [];
  for await (const chunk of session.backend.readRange(meta.bodyId, part.bodyStart, end, meta.chunkSize))
    chunks.push(chunk);
  return previewText(part, Buffer.concat(chunks));
}

/**
 * The decoded content of a part for BINARY[...]: a leaf's body decoded; the whole message (empty
 * path) or a multipart or message/rfc822 part with the leaves inside it decoded.
 */
function binaryContent(message: Buffer, structure: CachedStructure, path: number[]): Buffer {
  const node = path.length === 0 ? structure.root : resolvePart(structure.root, path);
  if (!node) return Buffer.alloc(0);
  try {
    if (path.length === 0) return decodeEntityParts(message, node, 0, message.length);
    if (node.children || node.message) return decodeEntityParts(message, node, node.bodyStart, node.bodyEnd);
    return decodeTransfer(message.subarray(node.bodyStart, node.bodyEnd), node.encoding);
  } catch (error) {
    if (error instanceof UnknownEncodingError) throw new CommandFailedError(error.message, 'UNKNOWN-CTE');
    throw error;
  }
}
