import { findAccessible, selectedRights } from '../acl/access.js';
import { encodeBinaryParts } from '../mime/binary-parts.js';
import { type ArgumentCursor, parseFlagList } from '../protocol/arguments.js';
import { dateTimeZone, parseImapDate } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { ImapUrlError, type MessageUrl, parseMessageUrl } from '../protocol/imap-url.js';
import { stringBytes, type Token } from '../protocol/parser.js';
import type { CommandContext } from '../session/command-context.js';
import { type CommandResult, no } from './command.js';
import { sectionBytes } from './fetch.js';

/** A part of a CATENATE message (RFC 4469): literal text, or an IMAP URL of (part of) a message. */
export type CatenatePart = { kind: 'text'; chunks: Buffer[]; size: number } | { kind: 'url'; url: string };

/** One message of APPEND (MULTIAPPEND) or REPLACE: flags, date, and a literal or CATENATE parts. */
export interface AppendMessage {
  flags: string[];
  date: Date | undefined;
  /** The zone date was given in, minutes east of UTC (kept with the internal date). */
  zone?: number;
  /** The message literal (literal8: sent as `~{n}`, RFC 3516), or the parts CATENATE joins. */
  content:
    | { kind: 'literal'; chunks: Buffer[]; size: number; literal8: boolean }
    | { kind: 'catenate'; parts: CatenatePart[] };
}

/**
 * append-message = [SP flag-list] [SP date-time] SP append-data (RFC 3502), where append-data is a
 * literal, "UTF8" SP "(" literal8 ")" (RFC 6855) or "CATENATE" SP "(" cat-part *(SP cat-part) ")"
 * with cat-part = "TEXT" SP literal / "URL" SP astring (RFC 4469 section 5).
 */
export function parseAppendMessage(args: ArgumentCursor, session: CommandContext): AppendMessage {
  let flags: string[] = [];
  let date: Date | undefined;
  let zone: number | undefined;
  const list = args.optionalList();
  if (list) flags = parseFlagList(list.items);
  let token = args.next('message literal');
  if (token.type === 'string' && !token.literal) {
    const text = Buffer.concat(token.chunks).toString('latin1');
    date = parseImapDate(text, true);
    if (!date) throw new BadArgumentsError('Invalid date-time');
    zone = dateTimeZone(text);
    token = args.next('message literal');
  }
  if (token.type === 'atom' && token.value.toUpperCase() === 'CATENATE') {
    const items = args.list('CATENATE parts').items;
    return {
      flags,
      date,
      ...(zone ? { zone } : {}),
      content: { kind: 'catenate', parts: parseCatenateParts(items) },
    };
  }
  if (token.type === 'atom' && token.value.toUpperCase() === 'UTF8') {
    // RFC 6855: APPEND ... UTF8 (literal8) for messages with UTF-8 headers.
    if (!session.utf8) throw new BadArgumentsError('UTF8 APPEND needs ENABLE UTF8=ACCEPT');
    const inner = args.list('UTF8 message').items;
    if (inner.length !== 1) throw new BadArgumentsError('Expected one message literal');
    token = inner[0]!;
  }
  if (token.type !== 'string' || !token.literal) throw new BadArgumentsError('Expected a message literal');
  const literal8 = token.literal8 === true;
  return {
    flags,
    date,
    ...(zone ? { zone } : {}),
    content: { kind: 'literal', chunks: token.chunks, size: token.size, literal8 },
  };
}

function parseCatenateParts(items: Token[]): CatenatePart[] {
  if (items.length === 0) throw new BadArgumentsError('CATENATE needs at least one part');
  const parts: CatenatePart[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const kind = items[i];
    const value = items[i + 1];
    const name = kind?.type === 'atom' ? kind.value.toUpperCase() : '';
    if (name === 'TEXT') {
      if (value?.type !== 'string' || !value.literal) throw new BadArgumentsError('TEXT needs a literal');
      parts.push({ kind: 'text', chunks: value.chunks, size: value.size });
    } else if (name === 'URL') {
      if (value?.type === 'atom') parts.push({ kind: 'url', url: value.value });
      else if (value?.type === 'string')
        parts.push({ kind: 'url', url: stringBytes(value).toString('utf8') });
      else throw new BadArgumentsError('URL needs an astring');
    } else throw new BadArgumentsError('Expected TEXT or URL');
  }
  return parts;
}

/** The bytes of each message, or the NO that refuses the command ([BADURL], [TOOBIG]). */
export async function messageBytes(
  session: CommandContext,
  messages: AppendMessage[],
): Promise<{ chunks: Buffer[][]; sizes: number[] } | CommandResult> {
  const limit = session.deps.limits.appendLimit;
  const out: Buffer[][] = [];
  const sizes: number[] = [];
  for (const message of messages) {
    if (message.content.kind === 'literal') {
      const { chunks, size, literal8 } = message.content;
      if (!literal8) {
        out.push(chunks);
        sizes.push(size);
        continue;
      }
      // Binary parts are stored base64-encoded (RFC 3516 4.4, see binary-parts.ts). APPENDLIMIT
      // bounds what the client sends, so the larger stored form is not refused for it.
      const stored = encodeBinaryParts(Buffer.concat(chunks, size));
      out.push([stored]);
      sizes.push(stored.length);
      continue;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for (const part of message.content.parts) {
      const bytes = part.kind === 'text' ? part.chunks : await urlBytes(session, part.url);
      if (!bytes) return no('Invalid URL or no such message', `BADURL ${urlForCode(part)}`);
      for (const chunk of bytes) {
        size += chunk.length;
        chunks.push(chunk);
      }
      // RFC 4469 section 5: a result larger than the server accepts is refused with TOOBIG.
      if (size > limit) return no(`Message is larger than ${limit} octets`, 'TOOBIG');
    }
    out.push(chunks);
    sizes.push(size);
  }
  return { chunks: out, sizes };
}

/** url-resp-text may hold any CHAR except "]" (RFC 4469 section 5); a URL cannot break the code. */
function urlForCode(part: CatenatePart): string {
  return part.kind === 'url' ? part.url.replace(/[\]\r\n\x00]/g, '') : '';
}

/**
 * What a URL part stands for: a message (or a section, or a partial range) this user can read, on
 * this server. Undefined for anything else: syntax, another user or host, a changed UIDVALIDITY,
 * a message or section that does not exist.
 */
async function urlBytes(session: CommandContext, text: string): Promise<Buffer[] | undefined> {
  let url: MessageUrl;
  try {
    url = parseMessageUrl(text);
  } catch (error) {
    if (error instanceof ImapUrlError) return undefined;
    throw error;
  }
  const user = session.user!;
  if (url.host !== undefined && url.host !== session.deps.hostname.toLowerCase()) return undefined;
  if (url.user !== undefined && url.user.toLowerCase() !== user.address.toLowerCase()) return undefined;
  let mailbox: { id: number; uidvalidity: number } | undefined;
  // The URL's mailbox is read as FETCH would: with the r right (RFC 4314), also another account's.
  if (url.mailbox === undefined)
    mailbox = (await selectedRights(session)).includes('r') ? session.selected : undefined;
  else {
    const access = await findAccessible(session, url.mailbox);
    mailbox = access?.rights.includes('r') ? access.box : undefined;
  }
  if (!mailbox) return undefined;
  if (url.uidvalidity !== undefined && url.uidvalidity !== mailbox.uidvalidity) return undefined;
  const [meta] = await session.backend.messages(mailbox.id, [url.uid]);
  if (!meta) return undefined;
  const partial = url.partial && { start: url.partial.start, count: url.partial.count ?? meta.size };
  try {
    return await sectionBytes(session, meta, url.section ?? '', partial);
  } catch (error) {
    if (error instanceof BadArgumentsError) return undefined;
    throw error;
  }
}
