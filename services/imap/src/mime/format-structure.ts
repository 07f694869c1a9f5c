import { imapString, nstring } from '../protocol/compose.js';
import type { Envelope, EnvelopeAddress, MimeNode } from './parse-mime.js';

const upperOrString = (s: string) => imapString(s.toUpperCase());

function paramList(params: Array<[string, string]>): string {
  if (params.length === 0) return 'NIL';
  return `(${params.map(([k, v]) => `${imapString(k.toUpperCase())} ${imapString(v)}`).join(' ')})`;
}

/**
 * RFC 3501 7.4.2 gives a NIL host to group syntax only (start: the group name as mailbox; end: all
 * NIL), so an address that lacks its domain or local part ("user@", "<>") is sent with a
 * placeholder instead, the words Dovecot uses.
 */
function address(a: EnvelopeAddress): string {
  const mailbox = a.group ? a.mailbox : (a.mailbox ?? 'MISSING_MAILBOX');
  const host = a.group ? a.host : (a.host ?? 'MISSING_DOMAIN');
  return `(${nstring(a.name)} ${nstring(a.route ?? null)} ${nstring(mailbox)} ${nstring(host)})`;
}

function addressList(addresses: EnvelopeAddress[]): string {
  if (addresses.length === 0) return 'NIL';
  return `(${addresses.map(address).join('')})`;
}

/**
 * The formatted text of the envelopes and structures FETCH asked for, per parsed object: a cached
 * structure never changes, so its text is built once and lives as long as the structure does (the
 * backend's structure cache holds it); a FETCH of a list view then costs a lookup per message.
 */
const envelopeTexts = new WeakMap<Envelope, string>();
const bodyTexts = new WeakMap<MimeNode, string>();
const bodyStructureTexts = new WeakMap<MimeNode, string>();

export function formatEnvelope(e: Envelope): string {
  let text = envelopeTexts.get(e);
  if (text === undefined) {
    text = envelopeText(e);
    envelopeTexts.set(e, text);
  }
  return text;
}

/** BODY (extensible = false) or BODYSTRUCTURE (extensible = true), RFC 3501 7.4.2. */
export function formatBodyStructure(node: MimeNode, extensible: boolean): string {
  const texts = extensible ? bodyStructureTexts : bodyTexts;
  let text = texts.get(node);
  if (text === undefined) {
    text = bodyStructureText(node, extensible);
    texts.set(node, text);
  }
  return text;
}

function envelopeText(e: Envelope): string {
  return `(${[
    nstring(e.date),
    nstring(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    nstring(e.inReplyTo),
    nstring(e.messageId),
  ].join(' ')})`;
}

function bodyStructureText(node: MimeNode, extensible: boolean): string {
  const extension = () => {
    const disposition = node.disposition
      ? `(${imapString(node.disposition.value.toUpperCase())} ${paramList(node.disposition.params)})`
      : 'NIL';
    const language = node.language ? `(${node.language.map((l) => imapString(l)).join(' ')})` : 'NIL';
    return [disposition, language, nstring(node.location)];
  };
  if (node.children) {
    const parts = node.children.map((c) => bodyStructureText(c, extensible)).join('');
    const fields = [upperOrString(node.subtype)];
    if (extensible) fields.push(paramList(node.params), ...extension());
    return `(${parts} ${fields.join(' ')})`;
  }
  const size = node.bodyEnd - node.bodyStart;
  const fields = [
    upperOrString(node.type),
    upperOrString(node.subtype),
    paramList(node.params),
    nstring(node.id),
    nstring(node.description),
    upperOrString(node.encoding),
    String(size),
  ];
  if (node.message) {
    fields.push(
      envelopeText(node.message.envelope!),
      bodyStructureText(node.message, extensible),
      String(node.lines),
    );
  } else if (node.type === 'text') {
    fields.push(String(node.lines));
  }
  if (extensible) fields.push(nstring(node.md5), ...extension());
  return `(${fields.join(' ')})`;
}
