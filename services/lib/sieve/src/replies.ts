/**
 * The messages Sieve actions send (vacation replies, reject notices, mailto notifications), composed
 * here once for delivery (mda) and for the conformance harness.
 */
import { randomBytes } from 'node:crypto';
import { parseAddressList } from './message.js';

/** The header fields of a message (unfolded), in order, names lower-cased. */
export function headerFields(raw: Buffer): Array<{ name: string; value: string }> {
  const block = headerSectionText(raw);
  const out: Array<{ name: string; value: string }> = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length > 0) out[out.length - 1]!.value += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0)
        out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
    }
  }
  return out;
}

/** The header section headerFields reads, as text. */
function headerSectionText(raw: Buffer): string {
  let end = raw.indexOf('\r\n\r\n');
  if (end < 0) end = raw.indexOf('\n\n');
  return raw.subarray(0, end < 0 ? Math.min(raw.length, 256 * 1024) : end).toString('utf8');
}

/**
 * The value of the first field named `name` (lowercase) exactly as headerFields gives it, without
 * building the others: delivery reads X-Spam-Status of every message this way.
 */
export function firstHeaderValue(raw: Buffer, name: string): string | undefined {
  const block = headerSectionText(raw);
  const length = block.length;
  const initial = name.charCodeAt(0);
  let value: string | undefined;
  let anyField = false;
  // lines as block.split(/\r?\n/) makes them, [start, lineEnd), without cutting out those not needed
  for (let start = 0; start <= length; ) {
    let end = block.indexOf('\n', start);
    if (end < 0) end = length;
    const lineEnd = end < length && end > start && block.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const next = end + 1;
    const first = start < lineEnd ? block.charCodeAt(start) : -1;
    if ((first === 32 || first === 9) && anyField) {
      if (value !== undefined) value += ` ${block.slice(start, lineEnd).trim()}`;
      start = next;
      continue;
    }
    let colon = start;
    while (colon < lineEnd && block.charCodeAt(colon) !== 58) colon++;
    if (colon === lineEnd || colon === start) {
      start = next;
      continue;
    }
    if (value !== undefined) return value;
    anyField = true;
    // a name that starts with another ASCII character (not white space, which trim removes) is not it
    const lower = first >= 65 && first <= 90 ? first + 32 : first;
    const maybe = first >= 128 || (first >= 9 && first <= 13) || first === 32 || lower === initial;
    if (maybe && block.slice(start, colon).trim().toLowerCase() === name)
      value = block.slice(colon + 1, lineEnd).trim();
    start = next;
  }
  return value;
}

const header = (fields: ReturnType<typeof headerFields>, name: string) =>
  fields.find((f) => f.name === name)?.value;

// Header values are single printable lines; anything else is cut at the first break.
const oneLine = (s: string): string => s.replace(/[\r\n].*$/s, '').trim();

/**
 * A header value as RFC 2047 encoded-words when it is not plain ASCII: base64 words of at most 36 bytes of
 * UTF-8 (60 characters, within the 75 of RFC 2047 2), never splitting a character, folded one per line.
 */
function encodeHeaderValue(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) {
    if (value.length <= 66) return value;
    // long plain text: folded at its spaces (RFC 5322 2.2.3), unless a word alone is too long for a line
    const words = value.split(' ');
    if (words.every((w) => w.length <= 900)) return foldAtSpaces(words);
  }
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    if (Buffer.byteLength(chunk + ch) > 36) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ');
}

/**
 * A mailbox (`name <address>`, or a bare address) for a header field: a non-ASCII display name as RFC
 * 2047 words (RFC 2047 5(3)), the address as written.
 */
function encodeMailbox(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const named = /^(.*?)\s*<([^<>]*)>$/.exec(value);
  if (!named) return value;
  const name = named[1]!.replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1');
  return `${encodeHeaderValue(name)} <${named[2]}>`;
}

/** Words joined by spaces, a line break put before a space wherever a line would pass 76 characters. */
function foldAtSpaces(words: readonly string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > 76) {
      lines.push(line);
      line = word;
    } else line = line === '' && lines.length === 0 ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('\r\n ');
}

const rfc5322Date = (d: Date): string => d.toUTCString().replace(/GMT$/, '+0000');

export interface VacationReplyInput {
  /** The reply's From address (the recipient, or :from). */
  from: string;
  to: string;
  subject?: string;
  reason: string;
  /** reason is a MIME entity (headers, blank line, body) rather than plain text. */
  mime: boolean;
  original: ReturnType<typeof headerFields>;
  hostname: string;
  now?: Date;
}

/** The vacation reply (RFC 5230 5, RFC 3834 3): In-Reply-To/References, Auto-Submitted: auto-replied. */
export function buildVacationReply(input: VacationReplyInput): Buffer {
  const originalSubject = header(input.original, 'subject') ?? '';
  const subject = input.subject ?? `Auto: ${originalSubject}`;
  const messageId = header(input.original, 'message-id');
  const references = header(input.original, 'references');
  const lines = [
    `From: ${encodeMailbox(oneLine(input.from))}`,
    `To: ${oneLine(input.to)}`,
    `Subject: ${encodeHeaderValue(oneLine(subject))}`,
    `Date: ${rfc5322Date(input.now ?? new Date())}`,
    `Message-ID: <vacation.${randomBytes(10).toString('hex')}@${oneLine(input.hostname)}>`,
    ...(messageId ? [`In-Reply-To: ${oneLine(messageId)}`] : []),
    ...(messageId ? [`References: ${oneLine([references, messageId].filter(Boolean).join(' '))}`] : []),
    'Auto-Submitted: auto-replied (vacation)',
    'Precedence: bulk',
    'MIME-Version: 1.0',
  ];
  const reason = input.reason.replace(/\r?\n/g, '\r\n');
  if (input.mime) return Buffer.from(`${lines.join('\r\n')}\r\n${reason}`);
  return Buffer.from(`${[...lines, ...plainTextEntity(reason)].join('\r\n')}\r\n`);
}

/** A text/plain entity (its header fields, a blank line, the body) that is 7-bit on the wire: base64 when not ASCII. */
function plainTextEntity(text: string): string[] {
  return /^[\x00-\x7f]*$/.test(text)
    ? ['Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit', '', text]
    : [
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from(text).toString('base64').replace(/.{76}/g, '$&\r\n'),
      ];
}

/**
 * The notice a `reject`/`ereject` sends back (RFC 5429 2.1): a message/disposition-notification
 * style report with the reason and the original header, from the null sender.
 */
export function buildRejectNotice(input: {
  recipient: string;
  to: string;
  reason: string;
  originalHeader: Buffer;
  hostname: string;
  now?: Date;
}): Buffer {
  const boundary = `hermod-reject-${randomBytes(12).toString('hex')}`;
  // RFC 8098 3.2.5: the original's Message-ID, when it had one
  const originalId = header(headerFields(input.originalHeader), 'message-id');
  const host = oneLine(input.hostname);
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${host}>`,
    `To: <${oneLine(input.to)}>`,
    `Subject: Message rejected by ${oneLine(input.recipient)}`,
    `Date: ${rfc5322Date(input.now ?? new Date())}`,
    `Message-ID: <reject.${randomBytes(10).toString('hex')}@${host}>`,
    'Auto-Submitted: auto-replied (rejected)',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=disposition-notification; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    ...plainTextEntity(
      `Your message to ${oneLine(input.recipient)} was rejected by the recipient's filter:\r\n\r\n${input.reason.replace(/\r?\n/g, '\r\n')}\r\n`,
    ),
    `--${boundary}`,
    'Content-Type: message/disposition-notification',
    '',
    `Reporting-UA: ${host}; Hermod Sieve`,
    `Final-Recipient: rfc822; ${oneLine(input.recipient)}`,
    ...(originalId ? [`Original-Message-ID: ${oneLine(originalId)}`] : []),
    'Disposition: automatic-action/MDN-sent-automatically; deleted',
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
  ];
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n`),
    input.originalHeader,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

/** The header block of a message (up to, not including, the blank line), at most 64 KiB. */
export function headerBlock(raw: Buffer): Buffer {
  let end = raw.indexOf('\r\n\r\n');
  if (end < 0) end = raw.indexOf('\n\n');
  return raw.subarray(0, Math.min(end < 0 ? raw.length : end, 65_536));
}

/** The items of an address list as written (display names kept), split at the commas between them. */
function addressItems(value: string): string[] {
  const items: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\') {
      current += c + (value[++i] ?? '');
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle++;
    else if (!quoted && c === '>') angle = Math.max(0, angle - 1);
    else if (!quoted && angle === 0 && c === ',') {
      items.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  items.push(current.trim());
  return items.filter(Boolean);
}

/**
 * The message an enotify `mailto:` notification sends (RFC 5436, URI per RFC 6068): to every address of
 * the URI (its path and its `to` and `cc` fields, each address once), from the recipient (or :from),
 * with the URI's subject (else the :message, else a summary of the original), `Auto-Submitted:
 * auto-notified`. Undefined when the URI is not a usable mailto URI or names no valid address.
 */
export function buildMailtoNotification(input: {
  method: string;
  from: string;
  message?: string;
  importance?: string;
  original: ReturnType<typeof headerFields>;
  hostname: string;
  now?: Date;
}): { recipients: string[]; body: Buffer } | undefined {
  const match = /^mailto:([^?]*)(?:\?(.*))?$/i.exec(input.method.trim());
  if (!match) return undefined;
  const fields = new Map<string, string[]>();
  let path: string;
  try {
    path = decodeURIComponent(match[1]!);
    for (const pair of (match[2] ?? '').split('&').filter(Boolean)) {
      const eq = pair.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
      fields.set(name, [...(fields.get(name) ?? []), value]);
    }
  } catch {
    return undefined;
  }
  const seen = new Set<string>();
  const recipients: string[] = [];
  const listed = (values: string[]): string[] => {
    const kept: string[] = [];
    for (const item of values.flatMap(addressItems)) {
      const parsed = parseAddressList(item);
      if (parsed?.length !== 1) return [];
      const address = `${parsed[0]!.localPart}@${parsed[0]!.domain}`;
      if (seen.has(address.toLowerCase())) continue;
      seen.add(address.toLowerCase());
      recipients.push(address);
      kept.push(oneLine(item));
    }
    return kept;
  };
  const to = listed([path, ...(fields.get('to') ?? [])]);
  const cc = listed(fields.get('cc') ?? []);
  if (recipients.length === 0) return undefined;
  const originalFrom = header(input.original, 'from') ?? '';
  const originalSubject = header(input.original, 'subject') ?? '';
  const summary = input.message ?? `${originalFrom}: ${originalSubject}`;
  const subject = fields.get('subject')?.[0] ?? summary;
  const body = fields.get('body')?.[0] ?? summary;
  const lines = [
    `From: ${encodeMailbox(oneLine(input.from))}`,
    ...(to.length > 0 ? [`To: ${to.join(', ')}`] : []),
    ...(cc.length > 0 ? [`Cc: ${cc.join(', ')}`] : []),
    `Subject: ${encodeHeaderValue(oneLine(subject))}`,
    `Date: ${rfc5322Date(input.now ?? new Date())}`,
    `Message-ID: <notify.${randomBytes(10).toString('hex')}@${oneLine(input.hostname)}>`,
    'Auto-Submitted: auto-notified',
    ...(input.importance === '1' ? ['Importance: high', 'X-Priority: 1'] : []),
    ...(input.importance === '3' ? ['Importance: low', 'X-Priority: 5'] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    body.replace(/\r?\n/g, '\r\n'),
  ];
  return { recipients, body: Buffer.from(`${lines.join('\r\n')}\r\n`) };
}
