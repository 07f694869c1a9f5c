import type { DnsRecordStatus, MailDomain } from '../api/v1alpha1/maildomain.js';

/** The two lookups verification needs; node:dns/promises' Resolver fits, tests may pass their own. */
export interface DnsLookup {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolveTxt(name: string): Promise<string[][]>;
}

export interface PublishedKey {
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  publicKey: string;
}

/** The records the domain should publish, for status (visible is filled in by verifyRecords). */
export function expectedRecords(
  md: MailDomain,
  keys: PublishedKey[],
  defaultMxHosts: string[],
): DnsRecordStatus[] {
  const { spec } = md;
  const domain = spec.domain;
  const mxHosts = spec.dns.mxHosts ?? defaultMxHosts;
  const records: DnsRecordStatus[] = [];
  // As the backup we sit behind the primary: a higher (less preferred) MX number.
  const preference = spec.exchanger === 'backup' ? 20 : 10;
  if (spec.exchanger !== 'remote') {
    for (const host of mxHosts)
      records.push({ purpose: 'MX', type: 'MX', name: domain, value: `${preference} ${host}` });
  }
  const spf =
    spec.exchanger === 'local' || spec.exchanger === 'auto' || mxHosts.length === 0
      ? 'v=spf1 mx ~all'
      : `v=spf1 ${mxHosts.map((h) => `a:${h}`).join(' ')} ~all`;
  records.push({ purpose: 'SPF', type: 'TXT', name: domain, value: spf });
  for (const key of keys) {
    const k = key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
    records.push({
      purpose: 'DKIM',
      type: 'TXT',
      name: `${key.selector}._domainkey.${domain}`,
      value: `v=DKIM1; k=${k}; p=${key.publicKey}`,
    });
  }
  records.push({
    purpose: 'DMARC',
    type: 'TXT',
    name: `_dmarc.${domain}`,
    value: `v=DMARC1; p=${spec.dns.dmarcPolicy}; rua=mailto:postmaster@${domain}`,
  });
  if (spec.tls.mtaSts !== 'none') {
    records.push({
      purpose: 'MTA-STS',
      type: 'TXT',
      name: `_mta-sts.${domain}`,
      value: `v=STSv1; id=${mtaStsId(md)}`,
    });
    // TLS-RPT (RFC 8460): where sending MTAs report failures to apply the MTA-STS policy.
    records.push({
      purpose: 'TLS-RPT',
      type: 'TXT',
      name: `_smtp._tls.${domain}`,
      value: `v=TLSRPTv1; rua=mailto:postmaster@${domain}`,
    });
  }
  return records;
}

/** A policy id that changes when the policy does (mode and MX hosts), as RFC 8461 asks. */
function mtaStsId(md: MailDomain): string {
  const text = `${md.spec.tls.mtaSts}|${(md.spec.dns.mxHosts ?? []).join(',')}`;
  let hash = 0;
  for (const ch of text) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `h${hash.toString(36)}`;
}

const squash = (s: string): string => s.replace(/\s+/g, '').toLowerCase();
const words = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();
const host = (s: string): string => s.toLowerCase().replace(/\.$/, '');

/** Looks every record up and says whether the resolver sees it; a failed lookup is "not visible". */
export async function verifyRecords(records: DnsRecordStatus[], dns: DnsLookup): Promise<DnsRecordStatus[]> {
  const cache = new Map<string, Promise<{ ok: true; values: string[] } | { ok: false; error: string }>>();
  const lookup = (type: 'MX' | 'TXT', name: string) => {
    const k = `${type} ${name}`;
    let p = cache.get(k);
    if (!p) {
      p = (
        type === 'MX'
          ? dns.resolveMx(name).then((rs) => rs.map((r) => `${r.priority} ${host(r.exchange)}`))
          : dns.resolveTxt(name).then((rs) => rs.map((parts) => parts.join('')))
      ).then(
        (values) => ({ ok: true as const, values }),
        (error: unknown) => ({
          ok: false as const,
          error: (error as { code?: string }).code ?? String(error),
        }),
      );
      cache.set(k, p);
    }
    return p;
  };
  return Promise.all(
    records.map(async (record) => {
      // Only the records mail flow depends on are verified (client autoconfiguration records are listed only).
      if (record.type !== 'MX' && record.type !== 'TXT') return record;
      const result = await lookup(record.type, record.name);
      if (!result.ok) return { ...record, visible: false, detail: `lookup failed: ${result.error}` };
      const visible = result.values.some((value) => matches(record, value));
      if (visible) return { ...record, visible: true };
      const seen = result.values.filter((v) => record.type === 'MX' || relevant(record, v));
      return {
        ...record,
        visible: false,
        detail: seen.length ? `resolver sees: ${seen.join(' | ').slice(0, 300)}` : 'no such record',
      };
    }),
  );
}

function relevant(record: DnsRecordStatus, value: string): boolean {
  const v = squash(value);
  if (record.purpose === 'SPF') return v.startsWith('v=spf1');
  if (record.purpose === 'DMARC') return v.startsWith('v=dmarc1');
  if (record.purpose === 'MTA-STS') return v.startsWith('v=stsv1');
  if (record.purpose === 'TLS-RPT') return v.startsWith('v=tlsrptv1');
  return v.startsWith('v=dkim1');
}

function matches(record: DnsRecordStatus, value: string): boolean {
  switch (record.purpose) {
    case 'MX':
      return host(value.split(' ')[1] ?? '') === host(record.value.split(' ')[1] ?? '');
    // SPF terms are separated by spaces (RFC 7208 4.6.1): only runs of them may differ.
    case 'SPF':
      return words(value) === words(record.value);
    case 'DKIM': {
      const key = /p=([^;]+)/.exec(record.value)?.[1] ?? '';
      return squash(value).startsWith('v=dkim1') && squash(value).includes(`p=${squash(key)}`);
    }
    case 'DMARC':
      return (
        squash(value).startsWith('v=dmarc1') &&
        squash(value).includes(squash(/p=[a-z]+/.exec(record.value)?.[0] ?? ''))
      );
    case 'MTA-STS':
    case 'TLS-RPT':
      return squash(value) === squash(record.value);
    default:
      return false;
  }
}
