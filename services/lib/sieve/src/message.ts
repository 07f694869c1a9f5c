/** Message access for Sieve: header fields, addresses, MIME structure, RFC 2047 words, dates. */
import { TextDecoder } from 'node:util';
import libmime from 'libmime';

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Raw value after the colon (folded, as written). */
  raw: string;
}

/** Splits a message (or MIME part) into header fields and the body. */
export function splitMessage(text: string): { headers: HeaderField[]; body: string } {
  let end = -1;
  let sepLen = 0;
  if (text.startsWith('\r\n')) {
    end = 0;
    sepLen = 2;
  } else if (text.startsWith('\n')) {
    end = 0;
    sepLen = 1;
  } else {
    const a = text.indexOf('\r\n\r\n');
    const b = text.indexOf('\n\n');
    if (a >= 0 && (b < 0 || a < b)) {
      end = a + 2;
      sepLen = 2;
    } else if (b >= 0) {
      end = b + 1;
      sepLen = 1;
    }
  }
  const headerText = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + sepLen);
  const headers: HeaderField[] = [];
  // the lines of headerText.split(/\r?\n/), without the regular expression
  for (let start = 0; start <= headerText.length; ) {
    let stop = headerText.indexOf('\n', start);
    if (stop < 0) stop = headerText.length;
    const cr = stop < headerText.length && stop > start && headerText.charCodeAt(stop - 1) === 13;
    const line = headerText.slice(start, cr ? stop - 1 : stop);
    start = stop + 1;
    if ((line.startsWith(' ') || line.startsWith('\t')) && headers.length) {
      headers[headers.length - 1]!.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: line.slice(0, colon).trimEnd(), raw: line.slice(colon + 1) });
  }
  return { headers, body };
}

export function unfold(raw: string): string {
  return raw.replace(/\r?\n(?=[ \t])/g, '');
}

const decoderCache = new Map<string, TextDecoder | null>();
function decoder(charset: string): TextDecoder | null {
  const key = charset.toLowerCase();
  if (!decoderCache.has(key)) {
    try {
      decoderCache.set(key, new TextDecoder(key === 'us-ascii' ? 'utf-8' : key));
    } catch {
      decoderCache.set(key, null);
    }
  }
  return decoderCache.get(key)!;
}

export function decodeCharset(bytes: Uint8Array, charset: string): string {
  const d = decoder(charset || 'utf-8') ?? decoder('utf-8')!;
  return d.decode(bytes);
}

export function decodeQuotedPrintable(text: string, header = false): Uint8Array {
  const out: number[] = [];
  const src = header ? text.replace(/_/g, ' ') : text.replace(/=\r?\n/g, '');
  const bytes = Buffer.from(src, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x3d && i + 2 < bytes.length + 0 && /^[0-9A-Fa-f]{2}$/.test(src.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(src.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(b);
  }
  return Uint8Array.from(out);
}

/** Decodes RFC 2047 encoded words in an unstructured header value (libmime). */
export function decodeMimeWords(value: string): string {
  if (!value.includes('=?')) return value;
  return libmime.decodeWords(value);
}

/** A header value as Sieve compares it: unfolded, encoded words decoded, outer whitespace removed. */
export function headerValue(raw: string): string {
  return decodeMimeWords(unfold(raw)).trim();
}

export interface MailAddress {
  localPart: string;
  domain: string;
}

/**
 * Parses an address list (RFC 5322, with groups, comments, quoted strings, obsolete routes); returns null
 * when the value is not a valid address list.
 */
/** Thrown inside parseAddressList on a syntax error: not an Error, so no stack trace is taken. */
const SYNTAX = Symbol('address syntax');
const isWsp = (c: number) => c === 32 || c === 9 || c === 13 || c === 10;
/** RFC 5322 atext, and any non-ASCII character. */
const ATEXT = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    t[c] = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]/.test(ch) ? 1 : 0;
  }
  return t;
})();
const isAtext = (c: number) => c >= 128 || ATEXT[c] === 1;

export function parseAddressList(value: string): MailAddress[] | null {
  return new AddressListParser(value).list();
}

/**
 * parseAddressList's state and steps: methods on one object rather than closures made on every call
 * (a delivery parses the From of every message, several times per script run before the cache).
 */
class AddressListParser {
  private i = 0;
  private readonly out: MailAddress[] = [];
  constructor(private readonly s: string) {}

  private skipCfws(): void {
    const s = this.s;
    for (;;) {
      while (this.i < s.length && isWsp(s.charCodeAt(this.i))) this.i++;
      if (s[this.i] === '(') {
        let depth = 0;
        while (this.i < s.length) {
          if (s[this.i] === '\\') this.i += 2;
          else {
            if (s[this.i] === '(') depth++;
            else if (s[this.i] === ')') depth--;
            this.i++;
            if (depth === 0) break;
          }
        }
        if (depth !== 0) throw SYNTAX;
      } else return;
    }
  }

  private word(allowDot: boolean): string | null {
    const s = this.s;
    this.skipCfws();
    if (s[this.i] === '"') {
      let r = '';
      this.i++;
      while (this.i < s.length && s[this.i] !== '"') {
        if (s[this.i] === '\\') this.i++;
        r += s[this.i] ?? '';
        this.i++;
      }
      if (s[this.i] !== '"') throw SYNTAX;
      this.i++;
      return r;
    }
    const start = this.i;
    while (this.i < s.length && (isAtext(s.charCodeAt(this.i)) || (allowDot && s[this.i] === '.'))) this.i++;
    return this.i > start ? s.slice(start, this.i) : null;
  }

  private addrSpec(): MailAddress {
    const s = this.s;
    const parts: string[] = [];
    for (;;) {
      // dots are taken into the atom: leading, trailing and doubled dots (obsolete, still sent by some
      // mobile carriers) are accepted in the local part
      const w = this.word(true);
      if (w === null) throw SYNTAX;
      parts.push(w);
      this.skipCfws();
      if (s[this.i] === '.') {
        this.i++;
        continue;
      }
      break;
    }
    this.skipCfws();
    if (s[this.i] !== '@') throw SYNTAX;
    this.i++;
    this.skipCfws();
    let domain = '';
    if (s[this.i] === '[') {
      const e = s.indexOf(']', this.i);
      if (e < 0) throw SYNTAX;
      domain = s.slice(this.i, e + 1);
      this.i = e + 1;
    } else {
      const labels: string[] = [];
      for (;;) {
        const w = this.word(false);
        if (w === null) throw SYNTAX;
        labels.push(w);
        this.skipCfws();
        if (s[this.i] === '.') {
          this.i++;
          continue;
        }
        break;
      }
      domain = labels.join('.');
    }
    this.skipCfws();
    return { localPart: parts.join('.'), domain };
  }

  private mailbox(): void {
    const s = this.s;
    this.skipCfws();
    const save = this.i;
    // try addr-spec first
    try {
      const a = this.addrSpec();
      if (this.i >= s.length || s[this.i] === ',' || s[this.i] === ';') {
        this.out.push(a);
        return;
      }
    } catch {
      /* display name form */
    }
    this.i = save;
    // display-name phrase then angle-addr
    for (;;) {
      this.skipCfws();
      if (s[this.i] === '<') break;
      const w = this.word(true);
      if (w === null) throw SYNTAX;
    }
    this.i++;
    this.skipCfws();
    if (s[this.i] === '@') {
      // obsolete route
      const e = s.indexOf(':', this.i);
      if (e < 0) throw SYNTAX;
      this.i = e + 1;
    }
    const a = this.addrSpec();
    if (s[this.i] !== '>') throw SYNTAX;
    this.i++;
    this.skipCfws();
    this.out.push(a);
  }

  list(): MailAddress[] | null {
    const s = this.s;
    try {
      this.skipCfws();
      while (this.i < s.length) {
        if (s[this.i] === ',') {
          this.i++;
          this.skipCfws();
          continue;
        }
        // group?
        const save = this.i;
        let isGroup = false;
        try {
          for (;;) {
            const w = this.word(true);
            if (w === null) break;
          }
          this.skipCfws();
          isGroup = s[this.i] === ':';
        } catch {
          isGroup = false;
        }
        if (isGroup) {
          this.i++;
          this.skipCfws();
          while (this.i < s.length && s[this.i] !== ';') {
            if (s[this.i] === ',') {
              this.i++;
              this.skipCfws();
              continue;
            }
            this.mailbox();
          }
          if (s[this.i] === ';') this.i++;
          this.skipCfws();
          continue;
        }
        this.i = save;
        this.mailbox();
        if (this.i < s.length && s[this.i] !== ',') throw SYNTAX;
      }
      return this.out;
    } catch {
      return null;
    }
  }
}

/** Parses an envelope path ("<a@b>" or "a@b" or "<>"); null when invalid. */
export function parsePath(path: string): MailAddress | null {
  let p = path.trim();
  if (p.startsWith('<') && p.endsWith('>')) p = p.slice(1, -1);
  if (p === '') return null;
  const list = parseAddressList(p);
  return list && list.length === 1 ? list[0]! : null;
}

export interface MimePart {
  headers: HeaderField[];
  /** Body text of the part as written (not decoded), for leaves. */
  body: string;
  contentType: string; // type/subtype lowercase
  params: Record<string, string>;
  children: MimePart[];
  parent: MimePart | null;
  /** Text of the whole part including headers. */
  whole: string;
}

export function parseParams(value: string): { value: string; params: Record<string, string> } {
  const parts: string[] = [];
  let cur = '';
  let q = false;
  for (let k = 0; k < value.length; k++) {
    const c = value[k]!;
    if (c === '"') q = !q;
    if (c === ';' && !q) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  const params: Record<string, string> = {};
  // RFC 2231 continuations (name*0, name*1*) and charset'language'percent-encoded values
  const pieces = new Map<string, { n: number; v: string; enc: boolean }[]>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    const key = p.slice(0, eq).trim().toLowerCase();
    const m = /^([^*]+)\*(?:(\d+)\*?|)$/.exec(key);
    const enc = key.endsWith('*');
    if (m) {
      const list = pieces.get(m[1]!) ?? [];
      list.push({ n: Number(m[2] ?? 0), v, enc });
      pieces.set(m[1]!, list);
    } else params[key] = v;
  }
  for (const [name, list] of pieces) {
    list.sort((a, b) => a.n - b.n);
    let charset = 'utf-8';
    const bytes: number[] = [];
    list.forEach((piece, i) => {
      let v = piece.v;
      if (piece.enc && i === 0) {
        const q = /^([^']*)'[^']*'(.*)$/.exec(v);
        if (q) {
          charset = q[1] || 'utf-8';
          v = q[2]!;
        }
      }
      if (piece.enc) {
        for (let k = 0; k < v.length; k++) {
          if (v[k] === '%' && /^[0-9A-Fa-f]{2}$/.test(v.slice(k + 1, k + 3))) {
            bytes.push(Number.parseInt(v.slice(k + 1, k + 3), 16));
            k += 2;
          } else bytes.push(v.charCodeAt(k) & 0xff);
        }
      } else for (const b of Buffer.from(v, 'utf8')) bytes.push(b);
    });
    params[name] = decodeCharset(Uint8Array.from(bytes), charset);
  }
  return { value: parts[0]!.replace(/\([^)]*\)/g, '').trim(), params };
}

export function findHeader(headers: HeaderField[], name: string): string | undefined {
  const lname = name.toLowerCase();
  const h = headers.find((f) => f.name.toLowerCase() === lname);
  return h ? unfold(h.raw).trim() : undefined;
}

export function parseMime(
  text: string,
  parent: MimePart | null = null,
  defaultType = 'text/plain',
  depth = 0,
): MimePart {
  const { headers, body } = splitMessage(text);
  const ct = findHeader(headers, 'content-type');
  let contentType = defaultType;
  let params: Record<string, string> = {};
  if (ct) {
    const parsed = parseParams(ct);
    if (/^[^/\s]+\/[^/\s]+$/.test(parsed.value)) contentType = parsed.value.toLowerCase();
    params = parsed.params;
  } else if (defaultType === 'text/plain') params = { charset: 'us-ascii' };
  const part: MimePart = { headers, body, contentType, params, children: [], parent, whole: text };
  if (depth > 50) return part;
  if (contentType.startsWith('multipart/') && params.boundary) {
    const delim = `--${params.boundary}`;
    const lines = body.split(/(?<=\n)/);
    let current: string[] | null = null;
    const pieces: string[] = [];
    for (const line of lines) {
      const bare = line.replace(/\r?\n$/, '');
      if (bare.trimEnd() === delim || bare.trimEnd() === `${delim}--`) {
        if (current) pieces.push(current.join('').replace(/\r?\n$/, ''));
        if (bare.trimEnd() === `${delim}--`) {
          current = null;
          break;
        }
        current = [];
      } else if (current) current.push(line);
    }
    if (current) pieces.push(current.join(''));
    const childDefault = contentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    for (const piece of pieces) part.children.push(parseMime(piece, part, childDefault, depth + 1));
  } else if (contentType === 'message/rfc822') {
    part.children.push(parseMime(body, part, 'text/plain', depth + 1));
  }
  return part;
}

/** Decoded text of a leaf part (transfer encoding and charset undone). */
export function decodePartBody(part: MimePart): string {
  const cte = (findHeader(part.headers, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  let bytes: Uint8Array;
  // Buffers are Uint8Arrays already: TextDecoder reads them in place (Uint8Array.from would copy
  // them byte by byte through the iterator, the most of this function's time for a 4 KiB text).
  if (cte === 'base64') bytes = Buffer.from(part.body.replace(/\s+/g, ''), 'base64');
  else if (cte === 'quoted-printable') bytes = decodeQuotedPrintable(part.body);
  else {
    // ASCII text in an ASCII-compatible charset is its own decoding: no bytes, no new string.
    if (ASCII_TEXT.test(part.body) && ASCII_IDENTITY.has(decoderEncoding(part.params.charset ?? 'utf-8')))
      return part.body;
    bytes = Buffer.from(part.body, 'latin1');
  }
  return decodeCharset(bytes, part.params.charset ?? 'utf-8');
}

const ASCII_TEXT = /^[\x00-\x7f]*$/;
/** Decoders (WHATWG names) that map every byte 0x00-0x7F to the same code point. */
const ASCII_IDENTITY = new Set(['utf-8', 'windows-1252']);
/** The encoding decodeCharset uses for a charset label (utf-8 for unknown labels, as it does). */
const decoderEncoding = (charset: string): string =>
  (decoder(charset || 'utf-8') ?? decoder('utf-8')!).encoding;

/** All parts in depth-first order. */
export function flattenParts(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  const walk = (p: MimePart) => {
    out.push(p);
    for (const c of p.children) walk(c);
  };
  walk(root);
  return out;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  z: 0,
  edt: -240,
  est: -300,
  cdt: -300,
  cst: -360,
  mdt: -360,
  mst: -420,
  pdt: -420,
  pst: -480,
};

/** A parsed RFC 5322 date: the instant and the zone offset in minutes it was written in. */
export interface ParsedDate {
  time: number;
  offsetMinutes: number;
}

export function parseRfc2822Date(value: string): ParsedDate | null {
  const v = value.replace(/\([^)]*\)/g, ' ').trim();
  const m =
    /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?\s*$/.exec(
      v,
    );
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  let offset = 0;
  const z = m[7];
  if (z) {
    if (/^[+-]\d{4}$/.test(z)) {
      offset = (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5))) * (z[0] === '-' ? -1 : 1);
    } else offset = ZONES[z.toLowerCase()] ?? 0;
  }
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6] ?? 0);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const time = Date.UTC(year, month, day, hour, minute, second) - offset * 60000;
  return { time, offsetMinutes: offset };
}

const LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\\u0080-\\uffff-]+";
const LABEL = '[A-Za-z0-9_\\u0080-\\uffff-]+';
const DOMAIN = `${LABEL}(?:\\.${LABEL})*`;
const SMTP_PATH = new RegExp(
  `^(?:@${DOMAIN}(?:,@${DOMAIN})*:)?(${LOCAL}|"(?:[^"\\\\]|\\\\.)*")(?:@(${DOMAIN}|\\[[^\\]]+\\]))?$`,
);

/**
 * Parses an SMTP path (RFC 5321: optional angle brackets and source route) strictly; returns null when it
 * is not a valid path. The null path ("" or "<>") is not handled here.
 */
export function parseSmtpPath(path: string): MailAddress | null {
  let s = path.trim();
  if (s.startsWith('<') || s.endsWith('>')) {
    if (!(s.startsWith('<') && s.endsWith('>'))) return null;
    s = s.slice(1, -1);
  }
  const m = SMTP_PATH.exec(s);
  if (!m) return null;
  let local = m[1]!;
  if (local.startsWith('"')) local = local.slice(1, -1).replace(/\\(.)/g, '$1');
  return { localPart: local, domain: m[2] ?? '' };
}

const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/;

/** An address as written on the wire: the local part quoted when it is not a dot-atom. */
export function formatAddress(localPart: string, domain: string): string {
  const local = DOT_ATOM.test(localPart) ? localPart : `"${localPart.replace(/(["\\])/g, '\\$1')}"`;
  return domain ? `${local}@${domain}` : local;
}
