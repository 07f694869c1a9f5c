/**
 * DANE for SMTP (RFC 7672 over RFC 6698 and RFC 7671): the one home of its rules.
 *
 * For an MX host whose address records are DNSSEC-validated (section 2.2.2), the TLSA RRset at
 * `_<port>._tcp.<host>` decides:
 * - validated and with usable records: TLS is mandatory and the certificate must match one of
 *   them (section 2.2). Usable are DANE-TA(2) and DANE-EE(3) with selector 0 (full certificate)
 *   or 1 (SubjectPublicKeyInfo) and matching type 0 (exact), 1 (SHA-256) or 2 (SHA-512);
 *   PKIX-TA(0) and PKIX-EE(1) are unusable in SMTP (section 3.1.3);
 * - validated but none usable: TLS is mandatory, without authentication (section 2.2);
 * - validated denial (NXDOMAIN, NODATA) or an insecure answer: no DANE, the usual policy applies;
 * - a failed lookup (SERVFAIL: bogus signatures, or the resolver unreachable): the host is not
 *   used, it may be tampered with (section 2.2).
 * DANE-EE is checked without names or dates (section 3.1.1); DANE-TA needs the chain from the
 * leaf up to the matched certificate, each signed by the next, within their validity, and the
 * leaf naming the MX host (sections 3.1.2 and 3.2.2).
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { SecureAnswer, SecureDnsQuery } from '../dns/dnssec-query.js';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

/** What DANE says about one MX host. */
export type DaneStatus =
  /** No DANE: the usual TLS policy (MTA-STS, domain settings) applies. `why` for logs. */
  | { kind: 'none'; why: string }
  /** Validated usable TLSA records: TLS mandatory, certificate checked against them. */
  | { kind: 'dane'; records: TlsaRecord[]; tlsaName: string }
  /** Validated TLSA RRset without a usable record: TLS mandatory, any certificate. */
  | { kind: 'unusable'; tlsaName: string }
  /** The lookup failed (bogus or unreachable): the host must not be used. */
  | { kind: 'failed'; reason: string; dnssecInvalid: boolean };

const usable = (r: TlsaRecord) =>
  (r.usage === 2 || r.usage === 3) &&
  (r.selector === 0 || r.selector === 1) &&
  r.matchingType >= 0 &&
  r.matchingType <= 2;

/** One lookup: its answer, or why the host must not be used (SERVFAIL, any other error). */
async function lookup(
  query: SecureDnsQuery,
  what: string,
  name: string,
  type: 'A' | 'TLSA',
): Promise<SecureAnswer | Extract<DaneStatus, { kind: 'failed' }>> {
  let answer: SecureAnswer;
  try {
    answer = await query(name, type);
  } catch (error) {
    return { kind: 'failed', reason: `${what} failed: ${String(error)}`, dnssecInvalid: false };
  }
  if (answer.rcode === 'SERVFAIL')
    return {
      kind: 'failed',
      reason: `${what} failed (SERVFAIL: DNSSEC validation failure or unreachable zone)`,
      dnssecInvalid: true,
    };
  if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN')
    return { kind: 'failed', reason: `${what} failed (${answer.rcode})`, dnssecInvalid: false };
  return answer;
}

/** The TLSA records and DANE status of one MX host, through a validating resolver. */
export async function daneStatus(query: SecureDnsQuery, host: string, port: number): Promise<DaneStatus> {
  const tlsaName = `_${port}._tcp.${host}`;
  const address = await lookup(query, `address lookup of ${host}`, host, 'A');
  if ('kind' in address) return address;
  if (!address.authenticated)
    return { kind: 'none', why: `the address records of ${host} are not DNSSEC-validated` };
  const tlsa = await lookup(query, `TLSA lookup of ${tlsaName}`, tlsaName, 'TLSA');
  if ('kind' in tlsa) return tlsa;
  if (!tlsa.authenticated)
    return { kind: 'none', why: `the TLSA records of ${host} are not DNSSEC-validated` };
  const records = tlsa.answers.flatMap((a) =>
    a.type === 'TLSA'
      ? [
          {
            usage: a.data.usage,
            selector: a.data.selector,
            matchingType: a.data.matchingType,
            data: a.data.certificate,
          },
        ]
      : [],
  );
  if (records.length === 0) return { kind: 'none', why: `${host} has no TLSA records` };
  const good = records.filter(usable);
  return good.length > 0 ? { kind: 'dane', records: good, tlsaName } : { kind: 'unusable', tlsaName };
}

function associated(cert: X509Certificate, record: TlsaRecord): boolean {
  const selected = record.selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  const digest =
    record.matchingType === 0
      ? selected
      : createHash(record.matchingType === 1 ? 'sha256' : 'sha512')
          .update(selected)
          .digest();
  return digest.equals(record.data);
}

const current = (cert: X509Certificate, now: number) =>
  Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);

/** The RFC 8460 result type of a DANE verification failure. */
export type DaneFailureType = 'tlsa-invalid' | 'certificate-expired' | 'certificate-host-mismatch';

/**
 * Checks the certificate chain the server sent (leaf first) against the usable TLSA records; the
 * failure says why the best candidate failed, for the queue's last reply and the DSN.
 */
export function verifyDane(
  chain: X509Certificate[],
  records: TlsaRecord[],
  host: string,
  now: number = Date.now(),
): { ok: true; usage: number } | { ok: false; reason: string; type: DaneFailureType } {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'the server sent no certificate', type: 'tlsa-invalid' };
  if (records.some((r) => r.usage === 3 && associated(leaf, r))) return { ok: true, usage: 3 };
  let failure: { reason: string; type: DaneFailureType } | undefined;
  for (const record of records.filter((r) => r.usage === 2)) {
    for (let depth = 1; depth < chain.length; depth++) {
      const anchor = chain[depth]!;
      if (!associated(anchor, record)) continue;
      const path = chain.slice(0, depth + 1);
      const linked = path.every((cert, i) => {
        const issuer = path[i + 1];
        return !issuer || (cert.checkIssued(issuer) && cert.verify(issuer.publicKey));
      });
      if (!linked) {
        failure ??= {
          reason: `the chain does not lead to the DANE-TA certificate at depth ${depth}`,
          type: 'tlsa-invalid',
        };
        continue;
      }
      if (!path.every((cert) => current(cert, now))) {
        failure = {
          reason: 'a certificate of the DANE-TA chain is expired or not yet valid',
          type: 'certificate-expired',
        };
        continue;
      }
      if (leaf.checkHost(host, { subject: 'default' }) === undefined) {
        failure = {
          reason: `the certificate (DANE-TA) does not name ${host}`,
          type: 'certificate-host-mismatch',
        };
        continue;
      }
      return { ok: true, usage: 2 };
    }
  }
  return {
    ok: false,
    ...(failure ?? {
      reason: `no TLSA record (${records.map((r) => `${r.usage} ${r.selector} ${r.matchingType}`).join(', ')}) matches the certificate chain`,
      type: 'tlsa-invalid' as const,
    }),
  };
}
