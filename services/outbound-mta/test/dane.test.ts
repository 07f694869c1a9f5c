import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { SecureAnswer, SecureDnsQuery } from '../src/dns/dnssec-query.js';
import { daneStatus, type TlsaRecord, verifyDane } from '../src/tls/dane.js';

const dir = mkdtempSync(join(tmpdir(), 'dane-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** openssl: a CA, and a leaf for mx.example.test issued by it (validity in days, negative: expired). */
function chain(name: string, leafDays: number): X509Certificate[] {
  const p = (f: string) => join(dir, `${name}-${f}`);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '30',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-subj',
    '/CN=Test CA',
  );
  ossl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    p('leaf.key'),
    '-out',
    p('leaf.csr'),
    '-subj',
    '/CN=mx.example.test',
  );
  writeFileSync(p('ext'), 'subjectAltName=DNS:mx.example.test\n');
  ossl(
    'x509',
    '-req',
    '-in',
    p('leaf.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    String(Math.abs(leafDays)),
    '-extfile',
    p('ext'),
    '-out',
    p('leaf.crt'),
  );
  return [new X509Certificate(readFileSync(p('leaf.crt'))), new X509Certificate(readFileSync(p('ca.crt')))];
}

const spki = (c: X509Certificate) => c.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
const digest = (alg: string, b: Buffer) => createHash(alg).update(b).digest();
const record = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data,
});

describe('verifyDane', () => {
  const [leaf, ca] = chain('good', 30) as [X509Certificate, X509Certificate];
  const [otherLeaf] = chain('other', 30) as [X509Certificate, X509Certificate];
  const host = 'mx.example.test';

  test('DANE-EE: full certificate or public key, exact, SHA-256 or SHA-512', () => {
    for (const r of [
      record(3, 1, 1, digest('sha256', spki(leaf))),
      record(3, 0, 2, digest('sha512', leaf.raw)),
      record(3, 0, 0, leaf.raw),
      record(3, 1, 0, spki(leaf)),
    ])
      assert.deepEqual(verifyDane([leaf, ca], [r], host), { ok: true, usage: 3 });
  });

  test('DANE-EE ignores the name and the chain (RFC 7672 section 3.1.1)', () => {
    assert.equal(
      verifyDane([leaf], [record(3, 1, 1, digest('sha256', spki(leaf)))], 'another.test').ok,
      true,
    );
  });

  test('DANE-TA: the chain must lead to the matched certificate and name the host', () => {
    const ta = record(2, 0, 1, digest('sha256', ca.raw));
    assert.deepEqual(verifyDane([leaf, ca], [ta], host), { ok: true, usage: 2 });
    const wrongName = verifyDane([leaf, ca], [ta], 'mx.other.test');
    assert.equal(wrongName.ok, false);
    assert.equal(!wrongName.ok && wrongName.type, 'certificate-host-mismatch');
    // A leaf of another CA presented with this CA: the signature does not verify.
    const forged = verifyDane([otherLeaf, ca], [ta], host);
    assert.equal(forged.ok, false);
    assert.equal(!forged.ok && forged.type, 'tlsa-invalid');
    // The TA must be sent by the server.
    assert.equal(verifyDane([leaf], [ta], host).ok, false);
  });

  test('DANE-TA: an expired chain fails as certificate-expired', () => {
    const ta = record(2, 0, 1, digest('sha256', ca.raw));
    const later = Date.parse(leaf.validTo) + 86_400_000;
    const result = verifyDane([leaf, ca], [ta], host, later);
    assert.equal(!result.ok && result.type, 'certificate-expired');
  });

  test('no match: the reason lists the records', () => {
    const result = verifyDane([leaf, ca], [record(3, 1, 1, digest('sha256', spki(otherLeaf)))], host);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : '', /no TLSA record \(3 1 1\) matches/);
  });
});

describe('daneStatus', () => {
  const answer = (partial: Partial<SecureAnswer>): SecureAnswer => ({
    rcode: 'NOERROR',
    authenticated: true,
    answers: [],
    ...partial,
  });
  const tlsaAnswer = (usage: number) => ({
    type: 'TLSA' as const,
    name: '_25._tcp.mx.example.test',
    data: { usage, selector: 1, matchingType: 1, certificate: Buffer.alloc(32) },
  });
  const fake =
    (a: SecureAnswer, tlsa: SecureAnswer): SecureDnsQuery =>
    async (_name, type) =>
      type === 'A' ? a : tlsa;

  test('insecure address records: no TLSA lookup, no DANE (RFC 7672 section 2.2.2)', async () => {
    let asked = false;
    const status = await daneStatus(
      async (_n, type) => {
        if (type === 'TLSA') asked = true;
        return answer({ authenticated: false });
      },
      'mx.example.test',
      25,
    );
    assert.equal(status.kind, 'none');
    assert.equal(asked, false);
  });

  test('insecure TLSA, validated denial: no DANE', async () => {
    assert.equal(
      (
        await daneStatus(
          fake(answer({}), answer({ authenticated: false, answers: [tlsaAnswer(3)] })),
          'mx',
          25,
        )
      ).kind,
      'none',
    );
    assert.equal((await daneStatus(fake(answer({}), answer({ rcode: 'NXDOMAIN' })), 'mx', 25)).kind, 'none');
  });

  test('bogus (SERVFAIL): failed, the host is not used', async () => {
    const status = await daneStatus(fake(answer({}), answer({ rcode: 'SERVFAIL' })), 'mx', 25);
    assert.equal(status.kind, 'failed');
  });

  test('only PKIX usages (0, 1): unusable, TLS without authentication', async () => {
    const status = await daneStatus(
      fake(answer({}), answer({ answers: [tlsaAnswer(0), tlsaAnswer(1)] })),
      'mx.example.test',
      25,
    );
    assert.deepEqual(status, { kind: 'unusable', tlsaName: '_25._tcp.mx.example.test' });
  });

  test('usable records are kept, PKIX ones dropped', async () => {
    const status = await daneStatus(
      fake(answer({}), answer({ answers: [tlsaAnswer(1), tlsaAnswer(3)] })),
      'mx.example.test',
      25,
    );
    assert.equal(status.kind, 'dane');
    assert.equal(status.kind === 'dane' && status.records.length, 1);
  });
});
