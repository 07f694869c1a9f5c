// A renewed certificate is served without a restart: msa (STARTTLS and implicit TLS), mx (STARTTLS)
// and imap (IMAPS, POP3S, and STARTTLS on ManageSieve) present the new certificate on the next
// handshake after the files change, both when they are rewritten in place and when they are swapped
// the way kubelet updates a Secret volume (a new `..2026_...` directory, then an atomic rename of the
// `..data` symlink). A pair that does not load (a key of another certificate) is refused and the
// previous certificate stays in service.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { ensureSelfSignedCertificate } from '@hermod/local-infra';
import { eventually, type HermodPlatform, startHermod, testWorkdir } from '@hermod/test/harness';
import { implicitTls, smtpStartTlsExchange, startTls } from './tls-probe.js';

let hermod: HermodPlatform;
let secretDir: string;
let generation = 0;
const pairs: Record<string, { cert: Buffer; key: Buffer; fingerprint: string }> = {};

/** Writes a pair as kubelet does: a fresh data directory, then an atomic swap of `..data`. */
async function swapSecret(pair: { cert: Buffer; key: Buffer }): Promise<void> {
  generation += 1;
  const data = `..2026_12_06_00_00_0${generation}.000000000`;
  await mkdir(join(secretDir, data));
  await writeFile(join(secretDir, data, 'tls.crt'), pair.cert);
  await writeFile(join(secretDir, data, 'tls.key'), pair.key);
  await symlink(data, join(secretDir, '..data_tmp'));
  await rename(join(secretDir, '..data_tmp'), join(secretDir, '..data'));
}

const fingerprint = async (peer: Promise<PeerCertificate>) => (await peer).fingerprint256;
const smtpStartTls = (port: number) => fingerprint(startTls(port, smtpStartTlsExchange));

/** Every TLS endpoint of the three services, with the fingerprint each one serves now. */
async function servedEverywhere(): Promise<Record<string, string>> {
  const { ports } = hermod;
  return {
    'msa submission (STARTTLS)': await smtpStartTls(ports.submission),
    'msa submissions (implicit TLS)': await fingerprint(implicitTls(ports.submissions)),
    'mx (STARTTLS)': await smtpStartTls(ports.mx),
    imaps: await fingerprint(implicitTls(ports.imaps)),
    pop3s: await fingerprint(implicitTls(ports.pop3s)),
    'imap (STARTTLS)': await fingerprint(
      startTls(ports.imap, [
        [undefined, /^\* OK/m],
        ['a STARTTLS', /^a OK/m],
      ]),
    ),
    'managesieve (STARTTLS)': await fingerprint(
      startTls(ports.managesieve, [
        [undefined, /^OK/m],
        ['STARTTLS', /^OK/m],
      ]),
    ),
  };
}

/** Waits until every endpoint serves the certificate named. */
async function untilServedEverywhere(name: string): Promise<void> {
  const expected = pairs[name]?.fingerprint;
  await eventually(
    `every listener serving certificate ${name}`,
    async () => {
      const now = await servedEverywhere();
      return Object.values(now).every((f) => f === expected) ? true : undefined;
    },
    20_000,
  );
}

async function metric(service: 'msa' | 'mx' | 'imap', pattern: RegExp): Promise<number> {
  const process = hermod.services.get(service);
  assert.ok(process);
  const text = await (await fetch(`http://127.0.0.1:${process.options.opsPort}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('certificates are reloaded without a restart', () => {
  before(async () => {
    const work = await testWorkdir('cert-reload');
    for (const name of ['first', 'second', 'third', 'fourth']) {
      const files = await ensureSelfSignedCertificate(join(work, 'made'), `${name}.hermod.test`, { name });
      const cert = await readFile(files.certFile);
      pairs[name] = {
        cert,
        key: await readFile(files.keyFile),
        fingerprint: new X509Certificate(cert).fingerprint256,
      };
    }
    // The layout of a mounted Secret: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
    secretDir = join(work, 'secret');
    await mkdir(secretDir);
    await swapSecret(pairs.first!);
    await symlink('..data/tls.crt', join(secretDir, 'tls.crt'));
    await symlink('..data/tls.key', join(secretDir, 'tls.key'));
    hermod = await startHermod({
      services: ['routing', 'imap', 'msa', 'mx'],
      commonEnv: { TLS_CERT_FILE: join(secretDir, 'tls.crt'), TLS_KEY_FILE: join(secretDir, 'tls.key') },
    });
  });
  after(async () => {
    await hermod?.stop();
  });

  test('the certificate in the Secret at start is served', async () => {
    const now = await servedEverywhere();
    for (const [listener, fingerprint] of Object.entries(now))
      assert.equal(fingerprint, pairs.first!.fingerprint, listener);
  });

  test('a kubelet-style swap of ..data is served on the next handshake', async () => {
    await swapSecret(pairs.second!);
    await untilServedEverywhere('second');
  });

  test('files rewritten in place are served on the next handshake', async () => {
    // The files themselves are written (through the symlinks), as with a hand-managed file.
    await writeFile(join(secretDir, 'tls.key'), pairs.third!.key);
    await writeFile(join(secretDir, 'tls.crt'), pairs.third!.cert);
    await untilServedEverywhere('third');
  });

  test('a pair that does not load is refused and the previous certificate stays in service', async () => {
    const refused = /^hermod_tls_certificate_reloads_total\{[^}]*result="refused"[^}]*\} (\d+)/m;
    const before = {
      msa: await metric('msa', refused),
      mx: await metric('mx', refused),
      imap: await metric('imap', refused),
    };
    // The fourth certificate with the third's key: createSecureContext refuses it.
    await swapSecret({ cert: pairs.fourth!.cert, key: pairs.third!.key });
    for (const service of ['msa', 'mx', 'imap'] as const)
      await eventually(`${service} counting the refused pair`, async () =>
        (await metric(service, refused)) > before[service] ? true : undefined,
      );
    const now = await servedEverywhere();
    for (const [listener, fingerprint] of Object.entries(now))
      assert.equal(fingerprint, pairs.third!.fingerprint, listener);
    // And the next good pair is taken again.
    await swapSecret(pairs.fourth!);
    await untilServedEverywhere('fourth');
  });
});
