import { createHash } from 'node:crypto';
import type { ClientSettings } from '@hermod/domain-config';
import { element } from './xml.js';

export const MOBILECONFIG_PATH = '/mail.mobileconfig';
export const MOBILECONFIG_CONTENT_TYPE = 'application/x-apple-aspen-config';

/** A UUID derived from a name (same name, same UUID: reinstalling replaces the profile). */
function nameUuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/**
 * An unsigned Apple configuration profile with one mail account (com.apple.mail.managed) for an
 * address; undefined when the domain offers no incoming or no outgoing service.
 */
export function renderMobileconfig(
  address: string,
  domain: string,
  settings: ClientSettings,
): string | undefined {
  const { host, ports } = settings;
  const incoming = ports.imaps
    ? { type: 'EmailTypeIMAP', port: ports.imaps, ssl: true }
    : ports.imap
      ? { type: 'EmailTypeIMAP', port: ports.imap, ssl: false }
      : ports.pop3s
        ? { type: 'EmailTypePOP', port: ports.pop3s, ssl: true }
        : undefined;
  const outgoing = ports.submissions
    ? { port: ports.submissions, ssl: true }
    : ports.submission
      ? { port: ports.submission, ssl: false }
      : undefined;
  if (!incoming || !outgoing) return undefined;
  const reversed = domain.split('.').reverse().join('.');
  const bool = (v: boolean) => (v ? '<true/>' : '<false/>');
  const entries = (pairs: Array<[string, string]>) =>
    pairs.map(([k, v]) => `${element('key', k)}${v}`).join('\n');
  const s = (v: string) => element('string', v);
  const i = (v: number) => element('integer', v);
  const account = entries([
    ['EmailAccountDescription', s(address)],
    ['EmailAccountName', s(address)],
    ['EmailAccountType', s(incoming.type)],
    ['EmailAddress', s(address)],
    ['IncomingMailServerAuthentication', s('EmailAuthPassword')],
    ['IncomingMailServerHostName', s(host)],
    ['IncomingMailServerPortNumber', i(incoming.port)],
    ['IncomingMailServerUseSSL', bool(incoming.ssl)],
    ['IncomingMailServerUsername', s(address)],
    ['OutgoingMailServerAuthentication', s('EmailAuthPassword')],
    ['OutgoingMailServerHostName', s(host)],
    ['OutgoingMailServerPortNumber', i(outgoing.port)],
    ['OutgoingMailServerUseSSL', bool(outgoing.ssl)],
    ['OutgoingMailServerUsername', s(address)],
    ['OutgoingPasswordSameAsIncomingPassword', bool(true)],
    ['PayloadDisplayName', s(`Mail: ${address}`)],
    ['PayloadIdentifier', s(`dev.hermod.mail.${reversed}.account`)],
    ['PayloadType', s('com.apple.mail.managed')],
    ['PayloadUUID', s(nameUuid(`account ${address}`))],
    ['PayloadVersion', i(1)],
  ]);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `${element('key', 'PayloadContent')}<array><dict>`,
    account,
    '</dict></array>',
    entries([
      ['PayloadDisplayName', s(`Mail: ${address}`)],
      ['PayloadIdentifier', s(`dev.hermod.mail.${reversed}`)],
      ['PayloadRemovalDisallowed', bool(false)],
      ['PayloadType', s('Configuration')],
      ['PayloadUUID', s(nameUuid(`profile ${address}`))],
      ['PayloadVersion', i(1)],
    ]),
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
