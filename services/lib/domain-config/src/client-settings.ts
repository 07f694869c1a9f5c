import type { DomainConfig } from './schema.js';

/** The mail client services a domain's users connect to, with their well-known ports. */
export const CLIENT_PORT_DEFAULTS = {
  /** IMAP over implicit TLS (RFC 8314). */
  imaps: 993,
  /** IMAP with STARTTLS. */
  imap: 143,
  /** POP3 over implicit TLS. */
  pop3s: 995,
  /** Message submission over implicit TLS (RFC 8314). */
  submissions: 465,
  /** Message submission with STARTTLS (RFC 6409). */
  submission: 587,
  /** ManageSieve with STARTTLS (RFC 5804). */
  manageSieve: 4190,
} as const;
export type ClientService = keyof typeof CLIENT_PORT_DEFAULTS;
export const clientServices = Object.keys(CLIENT_PORT_DEFAULTS) as ClientService[];

/** Where a domain's users point their mail clients: one host name, the offered services' ports. */
export interface ClientSettings {
  host: string;
  /** Only the offered services (a port of 0 in the config means "not offered"). */
  ports: Partial<Record<ClientService, number>>;
}

/**
 * The client settings a domain publishes (autoconfiguration documents, RFC 6186 SRV records):
 * `clients.host` or `mail.<domain>`, each service on its configured or well-known port.
 */
export function clientSettingsOf(config: Pick<DomainConfig, 'domain' | 'clients'>): ClientSettings {
  const host = (config.clients?.host ?? `mail.${config.domain}`).toLowerCase().replace(/\.$/, '');
  const ports: Partial<Record<ClientService, number>> = {};
  for (const service of clientServices) {
    const port = config.clients?.ports?.[service] ?? CLIENT_PORT_DEFAULTS[service];
    if (port > 0) ports[service] = port;
  }
  return { host, ports };
}
