import { type EnvelopeAddress, parseAddressList } from './addresses.js';
import {
  countLines,
  findBodyStart,
  type HeaderField,
  parseStructured,
  splitHeaderFields,
} from './header-fields.js';

export type { EnvelopeAddress } from './addresses.js';

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[];
  sender: EnvelopeAddress[];
  replyTo: EnvelopeAddress[];
  to: EnvelopeAddress[];
  cc: EnvelopeAddress[];
  bcc: EnvelopeAddress[];
  inReplyTo: string | null;
  messageId: string | null;
}

/** One MIME entity with absolute byte offsets into the stored message. Cached as JSON per body. */
export interface MimeNode {
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  type: string;
  subtype: string;
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  encoding: string;
  md5: string | null;
  disposition: { value: string; params: Array<[string, string]> } | null;
  language: string[] | null;
  location: string | null;
  lines: number;
  children?: MimeNode[];
  /** For message/rfc822: the encapsulated message. */
  message?: MimeNode;
  /** For the root and encapsulated messages. */
  envelope?: Envelope;
}

export interface MimeLimits {
  maxDepth: number;
  maxParts: number;
}

export const defaultMimeLimits: MimeLimits = { maxDepth: 100, maxParts: 10_000 };

// 2: addresses parsed by RFC 5322 (comments are not names); older cached structures are re-parsed.
// 3: the legacy "addr-spec (Full Name)" comment is the name; source routes are kept.
// 4: body lines count line ends only (a last line without CRLF adds none).
const STRUCTURE_VERSION = 4;
export interface CachedStructure {
  version: number;
  root: MimeNode;
}

export function isCurrentStructure(value: unknown): value is CachedStructure {
  return (
    typeof value === 'object' && value !== null && (value as CachedStructure).version === STRUCTURE_VERSION
  );
}

/** Parses a whole message into its MIME tree; depth and part count are capped (deeper parts become leaves). */
export function parseMime(buffer: Buffer, limits: MimeLimits = defaultMimeLimits): CachedStructure {
  const budget = { parts: 0 };
  return {
    version: STRUCTURE_VERSION,
    root: parseEntity(buffer, 0, buffer.length, 0, limits, budget, 'text/plain', true),
  };
}

function parseEntity(
  buffer: Buffer,
  start: number,
  end: number,
  depth: number,
  limits: MimeLimits,
  budget: { parts: number },
  defaultType: string,
  isMessage: boolean,
): MimeNode {
  budget.parts++;
  const bodyStart = findBodyStart(buffer, start, end);
  const fields = splitHeaderFields(buffer, start, bodyStart);
  const get = (name: string) => fields.find((f) => f.name === name)?.value;
  const contentType = parseStructured(get('content-type') ?? defaultType);
  let [type, subtype] = contentType.value
    .toLowerCase()
    .split('/')
    .map((s) => s.trim());
  let params = contentType.params;
  if (!type || !subtype || !/^[a-z0-9!#$&^_.+-]+$/.test(type) || !/^[a-z0-9!#$&^_.+-]+$/.test(subtype)) {
    [type, subtype] = defaultType.split('/') as [string, string];
    params = [];
  }
  if (type === 'text' && !params.some(([k]) => k === 'charset'))
    params = [['charset', 'us-ascii'], ...params];
  const disposition = get('content-disposition');
  const language = get('content-language');
  const node: MimeNode = {
    headerStart: start,
    bodyStart,
    bodyEnd: end,
    type,
    subtype,
    params,
    id: get('content-id') ?? null,
    description: get('content-description') ?? null,
    encoding: (get('content-transfer-encoding') ?? '7bit').trim().toLowerCase() || '7bit',
    md5: get('content-md5') ?? null,
    disposition: disposition ? parseStructured(disposition) : null,
    language: language
      ? language
          .split(',')
          .map((l) => l.trim())
          .filter(Boolean)
      : null,
    location: get('content-location') ?? null,
    lines: 0,
  };
  if (isMessage) node.envelope = buildEnvelope(fields);
  const canDescend = depth < limits.maxDepth && budget.parts < limits.maxParts;
  const boundary = params.find(([k]) => k === 'boundary')?.[1];
  if (type === 'multipart' && boundary && canDescend) {
    const childDefault = subtype === 'digest' ? 'message/rfc822' : 'text/plain';
    const ranges = splitMultipart(buffer, bodyStart, end, boundary);
    node.children = [];
    for (const range of ranges) {
      if (budget.parts >= limits.maxParts) {
        // Past the part budget the rest of this multipart is one opaque part.
        node.children.push(leaf(buffer, range[0], ranges[ranges.length - 1]![1]));
        break;
      }
      node.children.push(
        parseEntity(buffer, range[0], range[1], depth + 1, limits, budget, childDefault, false),
      );
    }
    if (node.children.length === 0) node.children.push(leaf(buffer, end, end));
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global') && canDescend) {
    node.message = parseEntity(buffer, bodyStart, end, depth + 1, limits, budget, 'text/plain', true);
    node.lines = countLines(buffer, bodyStart, end);
  } else {
    node.lines = countLines(buffer, bodyStart, end);
  }
  return node;
}

/** A part past the caps: kept as opaque application/octet-stream. */
function leaf(buffer: Buffer, start: number, end: number): MimeNode {
  return {
    headerStart: start,
    bodyStart: start,
    bodyEnd: end,
    type: 'application',
    subtype: 'octet-stream',
    params: [],
    id: null,
    description: null,
    encoding: '7bit',
    md5: null,
    disposition: null,
    language: null,
    location: null,
    lines: countLines(buffer, start, end),
  };
}

/** Byte ranges of the body parts between boundary delimiter lines (RFC 2046 5.1.1). */
function splitMultipart(
  buffer: Buffer,
  start: number,
  end: number,
  boundary: string,
): Array<[number, number]> {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const ranges: Array<[number, number]> = [];
  let partStart = -1;
  let pos = start;
  while (pos < end) {
    const found = buffer.indexOf(delimiter, pos);
    if (found < 0 || found + delimiter.length > end) break;
    const atLineStart = found === start || buffer[found - 1] === 0x0a;
    if (!atLineStart) {
      pos = found + 1;
      continue;
    }
    let after = found + delimiter.length;
    const closing = buffer[after] === 0x2d && buffer[after + 1] === 0x2d;
    if (closing) after += 2;
    // Only transport padding may follow the delimiter on its line.
    let lineEnd = after;
    while (
      lineEnd < end &&
      (buffer[lineEnd] === 0x20 || buffer[lineEnd] === 0x09 || buffer[lineEnd] === 0x0d)
    )
      lineEnd++;
    if (lineEnd < end && buffer[lineEnd] !== 0x0a) {
      pos = found + 1;
      continue;
    }
    if (partStart >= 0) {
      // The line break before the delimiter belongs to the delimiter.
      let partEnd = found;
      if (partEnd > partStart && buffer[partEnd - 1] === 0x0a) partEnd--;
      if (partEnd > partStart && buffer[partEnd - 1] === 0x0d) partEnd--;
      ranges.push([partStart, Math.max(partStart, partEnd)]);
    }
    if (closing) return ranges;
    partStart = Math.min(lineEnd + 1, end);
    pos = partStart;
  }
  if (partStart >= 0) ranges.push([partStart, end]);
  return ranges;
}

function buildEnvelope(fields: HeaderField[]): Envelope {
  const get = (name: string) => fields.find((f) => f.name === name)?.value ?? null;
  const addresses = (name: string) => {
    const value = get(name);
    return value ? parseAddressList(value) : [];
  };
  const from = addresses('from');
  const sender = addresses('sender');
  const replyTo = addresses('reply-to');
  return {
    date: get('date'),
    subject: get('subject'),
    from,
    sender: sender.length > 0 ? sender : from,
    replyTo: replyTo.length > 0 ? replyTo : from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: get('in-reply-to'),
    messageId: get('message-id'),
  };
}
