import type { ClientSettings } from '@hermod/domain-config';
import { element } from './xml.js';

/**
 * Thunderbird's autoconfig document (clientConfig version 1.1, served at
 * /mail/config-v1.1.xml on autoconfig.<domain> and /.well-known/autoconfig/mail/config-v1.1.xml).
 * The user name is the placeholder %EMAILADDRESS%: the document is the same for every address, so
 * it says nothing about which accounts exist.
 */
export function renderThunderbirdConfig(domain: string, settings: ClientSettings): string {
  const { host, ports } = settings;
  const server = (tag: 'incomingServer' | 'outgoingServer', type: string, port: number, socket: string) =>
    [
      `    <${tag} type="${type}">`,
      `      ${element('hostname', host)}`,
      `      ${element('port', port)}`,
      `      ${element('socketType', socket)}`,
      `      ${element('username', '%EMAILADDRESS%')}`,
      `      ${element('authentication', 'password-cleartext')}`,
      `    </${tag}>`,
    ].join('\n');
  const servers: string[] = [];
  if (ports.imaps) servers.push(server('incomingServer', 'imap', ports.imaps, 'SSL'));
  if (ports.imap) servers.push(server('incomingServer', 'imap', ports.imap, 'STARTTLS'));
  if (ports.pop3s) servers.push(server('incomingServer', 'pop3', ports.pop3s, 'SSL'));
  if (ports.submissions) servers.push(server('outgoingServer', 'smtp', ports.submissions, 'SSL'));
  if (ports.submission) servers.push(server('outgoingServer', 'smtp', ports.submission, 'STARTTLS'));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${domain}">`,
    `    ${element('domain', domain)}`,
    `    ${element('displayName', domain)}`,
    `    ${element('displayShortName', domain)}`,
    ...servers,
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}
