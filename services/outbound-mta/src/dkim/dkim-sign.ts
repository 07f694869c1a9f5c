import { createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';

/** Header fields signed when present (RFC 6376 §5.4.1's recommended set). */
export const signedHeaderFields = [
  'from',
  'reply-to',
  'subject',
  'date',
  'to',
  'cc',
  'resent-date',
  'resent-from',
  'resent-to',
  'resent-cc',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
  'message-id',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
];
/** Signed once more than they occur, so a second one added in transit breaks the signature. */
export const overSignedFields = ['from', 'subject'];

export interface DkimSigningKey {
  domain: string;
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  privateKeyPem: string;
}

interface HeaderField {
  name: string;
  /** The raw field including its folding, without the final CRLF. */
  raw: string;
}

function parseHeaderFields(header: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of header.split('\r\n')) {
    if (line === '') continue;
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) last.raw += `\r\n${line}`;
    else
      fields.push({
        name: line
          .slice(0, Math.max(line.indexOf(':'), 0))
          .trim()
          .toLowerCase(),
        raw: line,
      });
  }
  return fields;
}

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field. */
function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}`;
}

/** RFC 6376 §3.4.4 relaxed body canonicalization. */
export function relaxedBody(body: string): string {
  const lines = body.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out = lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.length === 0 ? '' : `${out.join('\r\n')}\r\n`;
}

const keyCache = new Map<string, KeyObject>();

/**
 * A DKIM-Signature field (with CRLF) for a CRLF-normalized message, relaxed/relaxed, signing the
 * usual header set and oversigning From and Subject. Nothing in the message is changed.
 */
export function dkimSignature(message: Buffer, key: DkimSigningKey, now: Date = new Date()): string {
  const text = message.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const header = split >= 0 ? text.slice(0, split + 2) : text;
  const body = split >= 0 ? text.slice(split + 4) : '';
  const bh = createHash('sha256')
    .update(Buffer.from(relaxedBody(body), 'latin1'))
    .digest('base64');

  // Bottom-up selection of instances (RFC 6376 §5.4.2), then one empty slot per oversigned name.
  const fields = parseHeaderFields(header);
  const remaining = [...fields];
  const names: string[] = [];
  const canonical: string[] = [];
  for (const name of signedHeaderFields) {
    for (;;) {
      const index = remaining.map((f) => f.name).lastIndexOf(name);
      if (index < 0) break;
      const [field] = remaining.splice(index, 1);
      names.push(name);
      canonical.push(`${relaxedHeader(field!.raw)}\r\n`);
    }
    if (overSignedFields.includes(name)) names.push(name);
  }

  const tags = [
    'v=1',
    `a=${key.algorithm}`,
    'c=relaxed/relaxed',
    `d=${key.domain}`,
    `s=${key.selector}`,
    `t=${Math.floor(now.getTime() / 1000)}`,
    `h=${names.join(':')}`,
    `bh=${bh}`,
    'b=',
  ];
  // Folded before signing: the signed form is the folded field's relaxed canonicalization.
  const unsigned = foldTags(tags);
  const data = Buffer.from(`${canonical.join('')}${relaxedHeader(unsigned)}`, 'latin1');
  let privateKey = keyCache.get(key.privateKeyPem);
  if (!privateKey) {
    privateKey = createPrivateKey(key.privateKeyPem);
    keyCache.set(key.privateKeyPem, privateKey);
  }
  const signature =
    key.algorithm === 'rsa-sha256'
      ? sign('sha256', data, privateKey)
      : sign(null, createHash('sha256').update(data).digest(), privateKey);
  // The b= value is removed before verification, so folding inside it is free.
  const b64 = signature.toString('base64');
  const room = Math.max(0, 76 - (unsigned.length - unsigned.lastIndexOf('\n') - 1));
  const rest = b64.slice(room).match(/.{1,72}/g) ?? [];
  return `${[unsigned + b64.slice(0, room), ...rest].join('\r\n\t')}\r\n`;
}

// One tag per line where lines get long; h= breaks after a colon (FWS is allowed there).
function foldTags(tags: string[]): string {
  const lines: string[] = [];
  let line = 'DKIM-Signature:';
  const push = (piece: string, sep: string) => {
    if (line.length + sep.length + piece.length > 76 && line.trim() !== '') {
      lines.push(line);
      line = `\t${piece}`;
    } else line = `${line}${sep}${piece}`;
  };
  for (const [i, tag] of tags.entries()) {
    const last = i === tags.length - 1;
    if (tag.startsWith('h=')) {
      const names = tag.split(':');
      for (const [j, n] of names.entries())
        push(`${n}${j < names.length - 1 ? ':' : last ? '' : ';'}`, j === 0 ? ' ' : '');
    } else push(`${tag}${last ? '' : ';'}`, ' ');
  }
  lines.push(line);
  return lines.join('\r\n');
}
