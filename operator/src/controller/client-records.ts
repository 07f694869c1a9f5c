import { clientSettingsOf } from '@hermod/domain-config';
import type { DnsRecordStatus, MailDomain } from '../api/v1alpha1/maildomain.js';

/** RFC 6186 (and RFC 8314 section 5.1 for _submissions) service labels of our client services. */
const srvLabels = [
  ['submission', '_submission._tcp'],
  ['submissions', '_submissions._tcp'],
  ['imap', '_imap._tcp'],
  ['imaps', '_imaps._tcp'],
  ['pop3s', '_pop3s._tcp'],
] as const;

/**
 * The DNS records mail clients use to find a domain's servers: autoconfig.<domain> and
 * autodiscover.<domain> CNAMEs to the host in front of routing's HTTP listener (when one is
 * configured), and an SRV record per offered service. Listed in status, not verified: a missing
 * one costs users a manual setup, not mail.
 */
export function clientRecords(md: MailDomain, autoconfigTarget: string | undefined): DnsRecordStatus[] {
  const domain = md.spec.domain;
  const settings = clientSettingsOf({ domain, clients: md.spec.clients });
  const records: DnsRecordStatus[] = [];
  if (autoconfigTarget) {
    const target = `${autoconfigTarget.toLowerCase().replace(/\.$/, '')}.`;
    records.push({ purpose: 'Autoconfig', type: 'CNAME', name: `autoconfig.${domain}`, value: target });
    records.push({ purpose: 'Autodiscover', type: 'CNAME', name: `autodiscover.${domain}`, value: target });
  }
  for (const [service, label] of srvLabels) {
    const port = settings.ports[service];
    if (port) {
      records.push({
        purpose: 'ClientSRV',
        type: 'SRV',
        name: `${label}.${domain}`,
        value: `0 1 ${port} ${settings.host}.`,
      });
    }
  }
  return records;
}
