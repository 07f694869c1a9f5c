import { publishedTexts, type TxtLookup } from './dmarc-record.js';

/**
 * The reporting policy of RFC 8460 section 3 (`_smtp._tls.<domain>` TXT): `v=TLSRPTv1` first, then
 * `rua=` with comma-separated mailto: and https: URIs. Other schemes are ignored; a record without
 * the version, or several TLSRPTv1 records, is no policy.
 */
export function parseTlsRptRecord(text: string): { rua: string[] } | undefined {
  const fields = text
    .split(';')
    .map((f) => f.trim())
    .filter(Boolean);
  if (fields[0]?.replace(/\s+/g, '') !== 'v=TLSRPTv1') return undefined;
  const rua = fields.find((f) => /^rua\s*=/i.test(f));
  if (!rua) return undefined;
  const uris = rua
    .replace(/^rua\s*=\s*/i, '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => /^mailto:[^@\s]+@[^@\s]+$/i.test(u) || /^https:\/\/\S+$/i.test(u));
  return uris.length > 0 ? { rua: uris } : undefined;
}

/** The domain's current TLS-RPT policy, or undefined (none, several, or DNS says no such name). */
export async function currentTlsRptRecord(domain: string, lookup: TxtLookup) {
  const texts = await publishedTexts(`_smtp._tls.${domain}`, lookup);
  const records = texts.filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t.trim()));
  return records.length === 1 ? parseTlsRptRecord(records[0] ?? '') : undefined;
}
