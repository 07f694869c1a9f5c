/**
 * RFC 5322 address lists (3.4, with the obsolete forms of 4.4 that mail still carries) turned into
 * IMAP envelope addresses (RFC 3501 7.4.2). Comments are whitespace here, with one exception: the
 * legacy form "addr-spec (Full Name)" that RFC 5322 3.4 describes (a bare addr-spec followed by a
 * comment) gives its comment as the display name. A comment inside <...> or after a name-addr is
 * never a name, and a group holding only a comment is just its start and end.
 */

export interface EnvelopeAddress {
  name: string | null;
  /** The obsolete source route of an angle-addr (RFC 5322 4.4 obs-route), e.g. "@a.org,@b.org". */
  route?: string | null;
  mailbox: string | null;
  host: string | null;
  /** Start (mailbox holds the group name, no host) or end (all null) of a group. */
  group?: 'start' | 'end';
}

type Token =
  | { kind: 'word'; text: string; quoted: boolean }
  | { kind: 'literal'; text: string }
  | { kind: 'comment'; text: string }
  | { kind: 'special'; text: '<' | '>' | '@' | ',' | ':' | ';' };

const SPECIALS = new Set(['<', '>', '@', ',', ':', ';']);

function tokenize(value: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      // A comment, nested and with quoted pairs; kept (unquoted) for the legacy name form only.
      let depth = 0;
      let text = '';
      for (; i < value.length; i++) {
        const d = value[i]!;
        if (d === '\\') {
          i++;
          if (i < value.length) text += value[i];
          continue;
        }
        if (d === '(' && depth++ === 0) continue;
        if (d === ')' && --depth === 0) {
          i++;
          break;
        }
        text += d;
      }
      out.push({ kind: 'comment', text: text.replace(/\s+/g, ' ').trim() });
    } else if (c === '"') {
      let text = '';
      for (i++; i < value.length && value[i] !== '"'; i++) {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        const d = value[i]!;
        if (d !== '\r' && d !== '\n') text += d;
      }
      i++;
      out.push({ kind: 'word', text, quoted: true });
    } else if (c === '[') {
      const end = value.indexOf(']', i);
      const stop = end < 0 ? value.length : end + 1;
      out.push({ kind: 'literal', text: value.slice(i, stop).replace(/\s+/g, '') });
      i = stop;
    } else if (SPECIALS.has(c)) {
      out.push({ kind: 'special', text: c as '<' });
      i++;
    } else {
      // An atom, dots included (dot-atom, and obs-phrase's "Q." in "John Q. Public").
      const start = i;
      while (i < value.length && !/[\s()"[<>@,:;]/.test(value[i]!)) i++;
      out.push({ kind: 'word', text: value.slice(start, i), quoted: false });
    }
  }
  return out;
}

const isSpecial = (t: Token | undefined, text: string) => t?.kind === 'special' && t.text === text;

const notComment = (t: Token) => t.kind !== 'comment';

/** Words of a phrase joined as a display name (quoted strings without their quotes). */
const phrase = (tokens: Token[]) =>
  tokens
    .filter((t) => t.kind === 'word')
    .map((t) => t.text)
    .join(' ') || null;

/** An addr-spec's tokens split at the last @; the pieces of each side are joined without spaces. */
function addrSpec(tokens: Token[]): { mailbox: string | null; host: string | null } {
  let at = -1;
  for (let i = 0; i < tokens.length; i++) if (isSpecial(tokens[i], '@')) at = i;
  const join = (list: Token[]) =>
    list
      .filter(notComment)
      .map((t) => t.text)
      .join('') || null;
  if (at < 0) return { mailbox: join(tokens), host: null };
  return { mailbox: join(tokens.slice(0, at)), host: join(tokens.slice(at + 1)) };
}

export function parseAddressList(value: string): EnvelopeAddress[] {
  const tokens = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let inGroup = false;
  let i = 0;
  while (i < tokens.length) {
    const words: Token[] = [];
    while (i < tokens.length && !['<', ':', ',', ';'].some((s) => isSpecial(tokens[i], s)))
      words.push(tokens[i++]!);
    const stop = tokens[i];
    if (isSpecial(stop, ':') && !inGroup) {
      out.push({ name: null, mailbox: phrase(words), host: null, group: 'start' });
      inGroup = true;
      i++;
      continue;
    }
    if (isSpecial(stop, '<')) {
      // name-addr: angle-addr, skipping an obsolete route (@a,@b:) before the addr-spec.
      const inner: Token[] = [];
      for (i++; i < tokens.length && !isSpecial(tokens[i], '>'); i++) inner.push(tokens[i]!);
      i++;
      const colon = inner.findIndex((t) => isSpecial(t, ':'));
      const spec = addrSpec(colon >= 0 ? inner.slice(colon + 1) : inner);
      const route =
        colon >= 0
          ? inner
              .slice(0, colon)
              .filter(notComment)
              .map((t) => t.text)
              .join('') || null
          : null;
      out.push({ name: phrase(words), route, ...spec });
      // Anything between > and the next separator is not part of the address.
      while (i < tokens.length && !isSpecial(tokens[i], ',') && !isSpecial(tokens[i], ';')) i++;
    } else if (words.some(notComment)) {
      // A bare addr-spec; a comment after it is the legacy display name.
      const last = words[words.length - 1]!;
      const name = last.kind === 'comment' && last.text ? last.text : null;
      out.push({ name, ...addrSpec(words) });
    }
    if (isSpecial(tokens[i], ';')) {
      if (inGroup) out.push({ name: null, mailbox: null, host: null, group: 'end' });
      inGroup = false;
    }
    i++;
  }
  if (inGroup) out.push({ name: null, mailbox: null, host: null, group: 'end' });
  return out;
}

/**
 * Addresses as text for SEARCH FROM/TO/CC/BCC: "name <mailbox@host>", a group by its name,
 * comments and folding gone.
 */
export function addressText(addresses: EnvelopeAddress[]): string {
  return addresses
    .filter((a) => a.group !== 'end')
    .map((a) => {
      if (a.group === 'start') return a.mailbox ?? '';
      const spec = a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? '');
      return a.name ? `${a.name} <${spec}>` : spec;
    })
    .join(', ');
}
