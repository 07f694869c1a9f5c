/** The fields of a DMARC record (RFC 7489 section 6.3) that reports use. */
export interface DmarcRecord {
  p: 'none' | 'quarantine' | 'reject';
  sp: 'none' | 'quarantine' | 'reject';
  pct: number;
  adkim: 'r' | 's';
  aspf: 'r' | 's';
  /** Failure reporting options (section 6.3 `fo`: 0, 1, d, s, colon-separated), "0" when absent or invalid. */
  fo: string;
  /** mailto: addresses of rua, size limits (`!10m`) stripped; other URI schemes are dropped. */
  rua: string[];
}

const policy = (v: string | undefined) =>
  v === 'none' || v === 'quarantine' || v === 'reject' ? v : undefined;

/** Parses `v=DMARC1; p=...; rua=mailto:...`; undefined when it is not a DMARC record. */
export function parseDmarcRecord(text: string): DmarcRecord | undefined {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (tags.get('v')?.toUpperCase() !== 'DMARC1') return undefined;
  const p = policy(tags.get('p')?.toLowerCase());
  if (!p) return undefined;
  const pct = Number(tags.get('pct') ?? '100');
  const rua = (tags.get('rua') ?? '')
    .split(',')
    .map((uri) => uri.trim())
    .filter((uri) => /^mailto:/i.test(uri))
    .map((uri) => decodeURIComponent(uri.slice('mailto:'.length).replace(/!\d+[kmgt]?$/i, '')).trim())
    .filter((address) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address));
  return {
    p,
    sp: policy(tags.get('sp')?.toLowerCase()) ?? p,
    pct: Number.isInteger(pct) && pct >= 0 && pct <= 100 ? pct : 100,
    adkim: tags.get('adkim')?.toLowerCase() === 's' ? 's' : 'r',
    aspf: tags.get('aspf')?.toLowerCase() === 's' ? 's' : 'r',
    fo: /^[01ds](:[01ds])*$/i.test(tags.get('fo') ?? '') ? tags.get('fo')!.toLowerCase() : '0',
    rua,
  };
}

/** A TXT lookup (node:dns Resolver.resolveTxt shape). */
export type TxtLookup = (name: string) => Promise<string[][]>;

/** The TXT records at `name`, each joined into one string; none when the name or the type does not exist. */
export async function publishedTexts(name: string, lookup: TxtLookup): Promise<string[]> {
  try {
    return (await lookup(name)).map((parts) => parts.join(''));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw error;
  }
}

/**
 * RFC 7489 section 7.1: a report for `policyDomain` may go to an address in another domain only
 * when that domain publishes `<policyDomain>._report._dmarc.<ruaDomain>` TXT `v=DMARC1`.
 */
export async function ruaAuthorised(
  policyDomain: string,
  ruaDomain: string,
  lookup: TxtLookup,
): Promise<boolean> {
  const a = policyDomain.toLowerCase();
  const b = ruaDomain.toLowerCase();
  if (a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`)) return true;
  try {
    const records = (await lookup(`${a}._report._dmarc.${b}`)).map((parts) => parts.join(''));
    return records.some((r) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(r.trim()));
  } catch {
    return false;
  }
}
