import type { ClientSettings } from '@hermod/domain-config';
import { XMLParser } from 'fast-xml-parser';
import { element } from './xml.js';

export const AUTODISCOVER_PATH = '/autodiscover/autodiscover.xml';
/** The only response schema we answer (Outlook's POX schema); ActiveSync's mobilesync is not served. */
export const OUTLOOK_RESPONSE_SCHEMA =
  'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
/** A request is a few hundred bytes; anything past this is refused before parsing. */
export const AUTODISCOVER_MAX_REQUEST_BYTES = 16 * 1024;

export class AutodiscoverRequestError extends Error {
  readonly code = 'AUTODISCOVER_BAD_REQUEST';
}

export interface AutodiscoverRequest {
  emailAddress: string;
  acceptableResponseSchema: string | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: true,
});

/**
 * The e-mail address of a POX Autodiscover request (<Autodiscover><Request><EMailAddress>).
 * Safe on hostile input: the caller caps the size; document type declarations (the way to entity
 * expansion and external entities) are refused outright, and entities are never expanded.
 */
export function parseAutodiscoverRequest(body: string): AutodiscoverRequest {
  if (Buffer.byteLength(body) > AUTODISCOVER_MAX_REQUEST_BYTES)
    throw new AutodiscoverRequestError('request too large');
  if (/<!(DOCTYPE|ENTITY)/i.test(body))
    throw new AutodiscoverRequestError('document type declarations are refused');
  let doc: unknown;
  try {
    doc = parser.parse(body, true);
  } catch (error) {
    throw new AutodiscoverRequestError(`malformed XML: ${(error as Error).message}`);
  }
  const request = (doc as { Autodiscover?: { Request?: Record<string, unknown> } })?.Autodiscover?.Request;
  const emailAddress = request?.EMailAddress;
  if (typeof emailAddress !== 'string' || emailAddress.length === 0)
    throw new AutodiscoverRequestError('no Autodiscover/Request/EMailAddress');
  const schema = request?.AcceptableResponseSchema;
  return { emailAddress, acceptableResponseSchema: typeof schema === 'string' ? schema : undefined };
}

/** The Outlook POX Autodiscover response for one address (login name: the address itself). */
export function renderAutodiscoverResponse(address: string, settings: ClientSettings): string {
  const { host, ports } = settings;
  const protocol = (type: 'IMAP' | 'POP3' | 'SMTP', port: number, tls: 'implicit' | 'starttls') =>
    [
      '      <Protocol>',
      `        ${element('Type', type)}`,
      `        ${element('Server', host)}`,
      `        ${element('Port', port)}`,
      `        ${element('DomainRequired', 'off')}`,
      `        ${element('LoginName', address)}`,
      `        ${element('SPA', 'off')}`,
      tls === 'implicit' ? `        ${element('SSL', 'on')}` : `        ${element('Encryption', 'TLS')}`,
      `        ${element('AuthRequired', 'on')}`,
      '      </Protocol>',
    ].join('\n');
  const protocols: string[] = [];
  if (ports.imaps) protocols.push(protocol('IMAP', ports.imaps, 'implicit'));
  else if (ports.imap) protocols.push(protocol('IMAP', ports.imap, 'starttls'));
  if (ports.pop3s) protocols.push(protocol('POP3', ports.pop3s, 'implicit'));
  if (ports.submissions) protocols.push(protocol('SMTP', ports.submissions, 'implicit'));
  else if (ports.submission) protocols.push(protocol('SMTP', ports.submission, 'starttls'));
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    `  <Response xmlns="${OUTLOOK_RESPONSE_SCHEMA}">`,
    `    <User>${element('DisplayName', address)}</User>`,
    '    <Account>',
    `      ${element('AccountType', 'email')}`,
    `      ${element('Action', 'settings')}`,
    ...protocols,
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}
