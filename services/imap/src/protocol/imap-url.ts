/**
 * IMAP URLs naming a message or a part of one (RFC 5092 section 9, "imessagepart"), as CATENATE
 * (RFC 4469) uses them:
 *
 *   imap://[user[;AUTH=*]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
 *
 * or relative to the server (`/mailbox;UIDVALIDITY=n/;UID=n...`) or to the selected mailbox
 * (`;UID=n...`). Pure syntax: which user, host and mailbox are acceptable is the caller's decision.
 */
export interface MessageUrl {
  /** Decoded user name of an absolute URL's authority, if any. */
  user?: string;
  /** Host of an absolute URL (lower case). */
  host?: string;
  port?: number;
  /** The mailbox name (UTF-8), or undefined for a URL relative to the selected mailbox. */
  mailbox?: string;
  uidvalidity?: number;
  uid: number;
  /** The section text (e.g. "1.2.HEADER"), decoded. */
  section?: string;
  partial?: { start: number; count?: number };
}

export class ImapUrlError extends Error {}

const NZ = /^[1-9]\d{0,9}$/;

function nzNumber(text: string | undefined, what: string): number {
  if (!text || !NZ.test(text) || Number(text) > 0xffffffff) throw new ImapUrlError(`Invalid ${what}`);
  return Number(text);
}

function decode(text: string, what: string): string {
  // bchar excludes these raw; they must be percent-encoded (RFC 5092 section 9).
  if (/[\s"<>\\^`{|}]/.test(text)) throw new ImapUrlError(`Invalid character in ${what}`);
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ImapUrlError(`Invalid percent-encoding in ${what}`);
  }
}

export function parseMessageUrl(url: string): MessageUrl {
  let rest = url;
  const out: Partial<MessageUrl> = {};
  if (/^imap:\/\//i.test(rest)) {
    rest = rest.slice(7);
    const slash = rest.indexOf('/');
    if (slash < 0) throw new ImapUrlError('Missing message path');
    const authority = rest.slice(0, slash);
    rest = rest.slice(slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      const user = userinfo.replace(/;AUTH=(\*|[^;]+)$/i, '');
      if (user) out.user = decode(user, 'user');
    }
    const server = authority.slice(at + 1);
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(server);
    if (!m) throw new ImapUrlError('Invalid host');
    out.host = m[1]!.toLowerCase();
    if (m[2]) out.port = Number(m[2]);
  }
  if (rest.startsWith('/')) {
    // "/" enc-mailbox [uidvalidity] "/" ...
    const end = rest.indexOf('/;', 1);
    if (end < 0) throw new ImapUrlError('Missing ;UID');
    let mailbox = rest.slice(1, end);
    const validity = /;UIDVALIDITY=([^/;]*)$/i.exec(mailbox);
    if (validity) {
      out.uidvalidity = nzNumber(validity[1], 'UIDVALIDITY');
      mailbox = mailbox.slice(0, validity.index);
    }
    if (!mailbox) throw new ImapUrlError('Missing mailbox');
    out.mailbox = decode(mailbox, 'mailbox');
    rest = rest.slice(end + 1);
  } else if (out.host !== undefined) {
    throw new ImapUrlError('Missing mailbox');
  }
  const parts = rest.split('/');
  const uid = /^;UID=(.*)$/i.exec(parts[0] ?? '');
  if (!uid) throw new ImapUrlError('Missing ;UID');
  out.uid = nzNumber(uid[1], 'UID');
  let i = 1;
  const section = /^;SECTION=(.+)$/i.exec(parts[i] ?? '');
  if (section) {
    out.section = decode(section[1]!, 'section');
    i++;
  }
  const partial = /^;PARTIAL=(\d{1,10})(?:\.(\d{1,10}))?$/i.exec(parts[i] ?? '');
  if (partial) {
    out.partial = {
      start: Number(partial[1]),
      ...(partial[2] !== undefined ? { count: nzNumber(partial[2], 'partial length') } : {}),
    };
    i++;
  }
  // ;URLAUTH (RFC 4467) is not supported here; anything else is not a message URL.
  if (i !== parts.length) throw new ImapUrlError('Unsupported URL part');
  return out as MessageUrl;
}
