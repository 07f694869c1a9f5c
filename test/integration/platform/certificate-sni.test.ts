// Per-host certificates (TLS_SNI_DIR): msa, mx and imap choose the certificate by the server name
// the client sends (SNI): the host's own, else a one-label wildcard (`*.wild.test`), else the
// default (TLS_CERT_FILE). A host's Secret swapped the way kubelet does it is served on the next
// handshake without a restart. A pair that does not load is skipped, and folders beyond
// TLS_SNI_MAX_HOSTS are not loaded (their names get the default), without stopping the service.
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { ensureSelfSignedCertificate } from '@hermod/local-infra';
import { eventually, type HermodPlatform, startHermod, testWorkdir } from '@hermod/test/harness';
import { implicitTls, smtpStartTlsExchange, startTls } from './tls-probe.js';

let hermod: HermodPlatform;
let work: string;
let sniDir: string;
let generation = 0;

/** Makes a self-signed pair for a host name (CN and SAN) under `made/`. */
async function makePair(
  name: string,
  hostname: string,
  altNames: string[] = [],
): Promise<{ cert: Buffer; key: Buffer }> {
  const files = await ensureSelfSignedCertificate(join(work, 'made'), hostname, { name, altNames });
  return { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
}

/** Writes a host's pair as kubelet updates a Secret volume: a fresh data directory, then a `..data` swap. */
async function swapHostSecret(host: string, pair: { cert: Buffer; key: Buffer }): Promise<void> {
  const dir = join(sniDir, host);
  generation += 1;
  const data = `..2026_12_07_00_00_0${generation}.000000000`;
  await mkdir(join(dir, data), { recursive: true });
  await writeFile(join(dir, data, 'tls.crt'), pair.cert);
  await writeFile(join(dir, data, 'tls.key'), pair.key);
  await symlink(data, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
}

async function plainHostFiles(host: string, pair: { cert: Buffer; key: Buffer }): Promise<void> {
  await mkdir(join(sniDir, host), { recursive: true });
  await writeFile(join(sniDir, host, 'tls.crt'), pair.cert);
  await writeFile(join(sniDir, host, 'tls.key'), pair.key);
}

/** The subject CN and SAN of a served certificate. */
const subject = async (peer: Promise<PeerCertificate>) => {
  const { subject: name, subjectaltname } = await peer;
  return `${name.CN} [${subjectaltname}]`;
};

/** What each TLS endpoint of the three services serves for a server name. */
async function servedFor(servername: string): Promise<Record<string, string>> {
  const { ports } = hermod;
  return {
    'msa submission (STARTTLS)': await subject(startTls(ports.submission, smtpStartTlsExchange, servername)),
    'msa submissions (implicit TLS)': await subject(implicitTls(ports.submissions, servername)),
    'mx (STARTTLS)': await subject(startTls(ports.mx, smtpStartTlsExchange, servername)),
    imaps: await subject(implicitTls(ports.imaps, servername)),
    pop3s: await subject(implicitTls(ports.pop3s, servername)),
    'imap (STARTTLS)': await subject(
      startTls(
        ports.imap,
        [
          [undefined, /^\* OK/m],
          ['a STARTTLS', /^a OK/m],
        ],
        servername,
      ),
    ),
    'managesieve (STARTTLS)': await subject(
      startTls(
        ports.managesieve,
        [
          [undefined, /^OK/m],
          ['STARTTLS', /^OK/m],
        ],
        servername,
      ),
    ),
  };
}

async function assertServed(servername: string, expected: RegExp): Promise<void> {
  for (const [listener, subject] of Object.entries(await servedFor(servername)))
    assert.match(subject, expected, `${listener} for ${servername}`);
}

describe('per-host certificates chosen by server name (TLS_SNI_DIR)', () => {
  before(async () => {
    work = await testWorkdir('cert-sni');
    sniDir = join(work, 'sni');
    const fallback = await ensureSelfSignedCertificate(join(work, 'made'), 'default.hermod.test', {
      name: 'default',
    });
    // a.mail.test as plain files; b.mail.test as a kubelet Secret volume (..data swapped on renewal).
    await plainHostFiles('a.mail.test', await makePair('a', 'a.mail.test'));
    await swapHostSecret('b.mail.test', await makePair('b1', 'b.mail.test'));
    for (const file of ['tls.crt', 'tls.key'])
      await symlink(join('..data', file), join(sniDir, 'b.mail.test', file));
    await plainHostFiles('*.wild.test', await makePair('wild', '*.wild.test'));
    // A certificate with another one's key: logged and skipped.
    const broken = await makePair('broken', '0broken.test');
    await plainHostFiles('0broken.test', {
      cert: broken.cert,
      key: (await makePair('a', 'a.mail.test')).key,
    });
    // Sorted after the three that load: over TLS_SNI_MAX_HOSTS=3, so not loaded.
    await plainHostFiles('z.over.test', await makePair('over', 'z.over.test'));
    hermod = await startHermod({
      services: ['routing', 'imap', 'msa', 'mx'],
      commonEnv: {
        TLS_CERT_FILE: fallback.certFile,
        TLS_KEY_FILE: fallback.keyFile,
        TLS_SNI_DIR: sniDir,
        TLS_SNI_MAX_HOSTS: '3',
      },
    });
  });
  after(async () => {
    await hermod?.stop();
  });

  test('each host name gets its own certificate on every listener', async () => {
    await assertServed('a.mail.test', /^a\.mail\.test \[DNS:a\.mail\.test,/);
    await assertServed('B.Mail.Test', /^b\.mail\.test \[DNS:b\.mail\.test,/);
  });

  test('a name under a wildcard folder gets the wildcard certificate, one label only', async () => {
    await assertServed('mail.wild.test', /^\*\.wild\.test \[DNS:\*\.wild\.test,/);
    await assertServed('deep.mail.wild.test', /^default\.hermod\.test /);
  });

  test('an unknown name, a skipped pair and a host over the limit get the default certificate', async () => {
    await assertServed('unknown.test', /^default\.hermod\.test /);
    await assertServed('0broken.test', /^default\.hermod\.test /);
    await assertServed('z.over.test', /^default\.hermod\.test /);
  });

  test("a renewed host certificate is served on the next handshake, the other host's unchanged", async () => {
    await swapHostSecret('b.mail.test', await makePair('b2', 'b.mail.test', ['renewed.b.mail.test']));
    await eventually(
      'every listener serving the renewed b.mail.test certificate',
      async () => {
        const now = await servedFor('b.mail.test');
        return Object.values(now).every((s) => s.includes('DNS:renewed.b.mail.test')) ? true : undefined;
      },
      20_000,
    );
    await assertServed('a.mail.test', /^a\.mail\.test \[DNS:a\.mail\.test,/);
  });
});
