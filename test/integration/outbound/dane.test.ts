// DANE for SMTP (RFC 7672) in outbound-mta against real peers: Debian's unbound validates test
// zones signed with ldns-signzone (and serves them), Postfix is the receiving MX with a CA-issued
// certificate and its chain. Validated TLSA records that match (DANE-EE 3 1 1, DANE-TA 2 0 1):
// delivered over TLS, recorded as dane-verified; a TLSA mismatch, a bogus (tampered) TLSA RRset
// and a peer without STARTTLS: deferred with the reason in the queue and nothing sent; an
// unsigned zone: its (non-matching) TLSA records are ignored and the mail goes by the usual
// opportunistic TLS; DANE wins over an MTA-STS policy that would refuse the host.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ensureSelfSignedCertificate, freePort } from '@hermod/local-infra';
import {
  type PostfixPeer,
  requireTool,
  run,
  type SmtpSink,
  startPostfixPeer,
  startSmtpSink,
  startValidatingResolver,
  testWorkdir,
  type ValidatingResolver,
} from '@hermod/test/harness';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  firstAttemptDeferred,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  simpleMessage,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
let postfix: PostfixPeer;
let sink: SmtpSink;
let resolver: ValidatingResolver;
let https: Server;
const SINK_ADDRESS = '127.0.0.7';
const from = `alice@${LOCAL_DOMAIN}`;
const TLSRPT_MAILBOX = `tlsrpt@${LOCAL_DOMAIN}`;
/** TLS reports POSTed to https://reports.dane.test/tlsrpt. */
const posted: Array<{ contentType: string; body: Buffer }> = [];

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const spki = (pem: string) =>
  new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }) as Buffer;

/** A CA and a leaf it issued for `names` (openssl), the leaf file holding the chain (leaf, CA). */
async function issuedCertificate(dir: string, names: string[]) {
  const ca = { key: join(dir, 'ca.key'), cert: join(dir, 'ca.crt') };
  const leaf = { key: join(dir, 'leaf.key'), csr: join(dir, 'leaf.csr'), cert: join(dir, 'leaf.crt') };
  const ext = join(dir, 'leaf.ext');
  await writeFile(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30'],
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ['x509', '-req', '-days', '30', '-CAcreateserial'],
  ];
  const commands = [
    [...steps[0]!, '-keyout', ca.key, '-out', ca.cert, '-subj', '/CN=DANE test CA'],
    [...steps[1]!, '-keyout', leaf.key, '-out', leaf.csr, '-subj', `/CN=${names[0]}`],
    [...steps[2]!, '-in', leaf.csr, '-CA', ca.cert, '-CAkey', ca.key, '-out', leaf.cert, '-extfile', ext],
  ];
  for (const args of commands) {
    const r = await run('openssl', args);
    if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  }
  const caPem = await readFile(ca.cert, 'utf8');
  const leafPem = await readFile(leaf.cert, 'utf8');
  const chainFile = join(dir, 'chain.crt');
  await writeFile(chainFile, `${leafPem}${caPem}`);
  return { caPem, leafPem, certFile: chainFile, keyFile: leaf.key };
}

const deferred = (spoolId: string) => firstAttemptDeferred(bed, spoolId);

before(async () => {
  await requireTool('openssl', 'apt-get install openssl');
  const dir = await testWorkdir('dane');
  const smtpPort = await freePort();
  const issued = await issuedCertificate(dir, ['mx.dane.test', 'mx.ta.dane.test', 'mx.plain.test']);
  const other = await ensureSelfSignedCertificate(dir, 'other.test', { name: 'other' });
  const leafSpki = sha256(spki(issued.leafPem));
  const otherSpki = sha256(spki(await readFile(other.certFile, 'utf8')));
  const caCert = sha256(new X509Certificate(issued.caPem).raw);
  const tlsa = `_${smtpPort}._tcp`;
  // One HTTPS server: the MTA-STS policy of sts.dane.test, and the TLS-RPT endpoint of reports.dane.test.
  const web = await ensureSelfSignedCertificate(dir, 'mta-sts.sts.dane.test', {
    name: 'web',
    altNames: ['reports.dane.test'],
  });
  https = createServer(
    { cert: await readFile(web.certFile), key: await readFile(web.keyFile) },
    (req, res) => {
      if (req.method === 'POST' && req.url === '/tlsrpt') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          posted.push({ contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
          res.writeHead(200).end();
        });
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n');
    },
  );
  const webPort = await freePort();
  await new Promise<void>((resolve) => https.listen(webPort, '127.0.0.1', resolve));
  const rua = `https://reports.dane.test:${webPort}/tlsrpt`;
  resolver = await startValidatingResolver([
    {
      name: 'dane.test',
      signed: true,
      records: [
        // DANE-EE: the leaf's public key.
        'ok IN MX 10 mx.ok',
        'mx.ok IN A 127.0.0.1',
        `${tlsa}.mx.ok IN TLSA 3 1 1 ${leafSpki}`,
        // DANE-TA: the CA certificate the chain leads to; the leaf names mx.ta.dane.test.
        'ta IN MX 10 mx.ta',
        'mx.ta IN A 127.0.0.1',
        `${tlsa}.mx.ta IN TLSA 2 0 1 ${caCert}`,
        // A key the server does not have.
        'mismatch IN MX 10 mx.mismatch',
        'mx.mismatch IN A 127.0.0.1',
        `${tlsa}.mx.mismatch IN TLSA 3 1 1 ${otherSpki}`,
        // Signed, then altered: bogus.
        'bogus IN MX 10 mx.bogus',
        'mx.bogus IN A 127.0.0.1',
        `${tlsa}.mx.bogus IN TLSA 3 1 1 ${leafSpki}`,
        // DANE towards a server without STARTTLS.
        'plain IN MX 10 mx.plain',
        `mx.plain IN A ${SINK_ADDRESS}`,
        `${tlsa}.mx.plain IN TLSA 3 1 1 ${leafSpki}`,
        // MTA-STS enforce names another MX; DANE covers this one.
        'sts IN MX 10 mx.sts',
        'mx.sts IN A 127.0.0.1',
        `${tlsa}.mx.sts IN TLSA 3 1 1 ${leafSpki}`,
        '_mta-sts.sts IN TXT "v=STSv1; id=pol1"',
        'mta-sts.sts IN A 127.0.0.1',
        // TLS reporting policies (RFC 8460 section 3).
        'reports IN A 127.0.0.1',
        `_smtp._tls.ok IN TXT "v=TLSRPTv1; rua=mailto:${TLSRPT_MAILBOX},${rua}"`,
        `_smtp._tls.mismatch IN TXT "v=TLSRPTv1; rua=${rua}"`,
        `_smtp._tls.bogus IN TXT "v=TLSRPTv1; rua=${rua}"`,
      ],
      tamper: [`${tlsa}.mx.bogus`],
    },
    {
      // Unsigned: the TLSA record (a key the server does not have) must be ignored.
      name: 'plain.test',
      signed: false,
      records: ['@ IN MX 10 mx', 'mx IN A 127.0.0.1', `${tlsa}.mx IN TLSA 3 1 1 ${otherSpki}`],
    },
  ]);
  const caFile = join(dir, 'web-ca.pem');
  await writeFile(caFile, await readFile(web.certFile, 'utf8'));
  bed = await startOutboundTestbed({
    smtpPort,
    outboundEnv: {
      OUTBOUND_DNS_SERVERS: resolver.address,
      OUTBOUND_DANE: 'true',
      OUTBOUND_TLS_CA_FILE: caFile,
      OUTBOUND_MTA_STS_PORT: String(webPort),
      OUTBOUND_TLSRPT_FROM: `tlsrpt-sender@${LOCAL_DOMAIN}`,
      OUTBOUND_TLSRPT_PERIOD: '2s',
      OUTBOUND_TLSRPT_INTERVAL: '500ms',
      OUTBOUND_TLSRPT_FLUSH_INTERVAL: '200ms',
      OUTBOUND_RETRY_SCHEDULE: '1m',
      // A delay notice at the first deferral: its diagnostic carries the DANE reason.
      OUTBOUND_DELAY_NOTICE_AFTER: '0s',
    },
  });
  await bed.addAccount(TLSRPT_MAILBOX);
  await bed.addAccount(from);
  postfix = await startPostfixPeer({
    domains: [
      'ok.dane.test',
      'ta.dane.test',
      'mismatch.dane.test',
      'bogus.dane.test',
      'sts.dane.test',
      'plain.test',
    ],
    port: smtpPort,
    hostname: 'mx.dane.test',
    tls: { certFile: issued.certFile, keyFile: issued.keyFile },
  });
  sink = await startSmtpSink({ host: SINK_ADDRESS, port: smtpPort, dumpDirectory: join(dir, 'sink') });
});

after(async () => {
  await sink?.stop();
  await postfix?.stop();
  await bed?.stop();
  await resolver?.stop();
  https?.close();
});

describe('DANE (RFC 7672)', () => {
  test('validated DANE-EE 3 1 1 matching the key: delivered over TLS, dane-verified', async () => {
    const spoolId = await bed.submit(
      from,
      ['ann@ok.dane.test'],
      simpleMessage(from, 'ann@ok.dane.test', 'dane ee'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23] dane-verified \(dane\)$/);
    const [stored] = await postfix.waitForMessages('ann@ok.dane.test', 1);
    assert.match(stored!.toString('utf8'), /\n\nbody of dane ee\n$/);
  });

  test('validated DANE-TA 2 0 1 naming the CA of the chain: delivered, dane-verified', async () => {
    const spoolId = await bed.submit(
      from,
      ['bo@ta.dane.test'],
      simpleMessage(from, 'bo@ta.dane.test', 'dane ta'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23] dane-verified \(dane\)$/);
    await postfix.waitForMessages('bo@ta.dane.test', 1);
  });

  test('TLSA mismatch: deferred with the reason, nothing delivered', async () => {
    const spoolId = await bed.submit(
      from,
      ['cy@mismatch.dane.test'],
      simpleMessage(from, 'cy@mismatch.dane.test', 'dane mismatch'),
    );
    const row = await deferred(spoolId);
    assert.match(
      row.last_reply ?? '',
      /TLS required \(dane\).*mx\.mismatch\.dane\.test.*no TLSA record \(3 1 1\) matches the certificate chain/,
    );
    assert.deepEqual(await postfix.messages('cy@mismatch.dane.test'), []);
    // The sender's delay notice (RFC 3464) names the same reason.
    const dsn = await waitFor('the delay notice', async () =>
      (await bed.mailbox(from)).find((m) => m.includes('cy@mismatch.dane.test')),
    );
    assert.match(dsn, /^Action: delayed$/m);
    assert.match(dsn, /^Diagnostic-Code: .*DANE.*no TLSA record \(3 1 1\) matches the certificate chain/m);
  });

  test('bogus TLSA RRset (signature does not verify): deferred, never connected', async () => {
    const spoolId = await bed.submit(
      from,
      ['di@bogus.dane.test'],
      simpleMessage(from, 'di@bogus.dane.test', 'bogus'),
    );
    const row = await deferred(spoolId);
    assert.match(
      row.last_reply ?? '',
      /DANE: TLSA lookup of _\d+\._tcp\.mx\.bogus\.dane\.test failed \(SERVFAIL/,
    );
    assert.match(resolver.log(), /validation failure <_\d+\._tcp\.mx\.bogus\.dane\.test\. TLSA IN>/);
    assert.deepEqual(await postfix.messages('di@bogus.dane.test'), []);
  });

  test('DANE host without STARTTLS: deferred, nothing sent in clear', async () => {
    const spoolId = await bed.submit(
      from,
      ['ed@plain.dane.test'],
      simpleMessage(from, 'ed@plain.dane.test', 'no tls'),
    );
    const row = await deferred(spoolId);
    assert.match(row.last_reply ?? '', /TLS required \(dane\)/);
    assert.deepEqual(await sink.dumps(), [], 'smtp-sink received a message in clear');
  });

  test('insecure (unsigned) zone: TLSA ignored, delivered by the usual opportunistic TLS', async () => {
    const spoolId = await bed.submit(
      from,
      ['flo@plain.test'],
      simpleMessage(from, 'flo@plain.test', 'insecure'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23]$/);
    await postfix.waitForMessages('flo@plain.test', 1);
  });

  test('DANE takes precedence over MTA-STS (RFC 8461 section 2): delivered to the DANE host', async () => {
    const spoolId = await bed.submit(
      from,
      ['gil@sts.dane.test'],
      simpleMessage(from, 'gil@sts.dane.test', 'dane sts'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /dane-verified \(dane\)$/);
  });
});

describe('SMTP TLS Reporting (RFC 8460)', () => {
  const schema = JSON.parse(
    readFileSync(
      new URL('../../../services/lib/dmarc-reports/test/tlsrpt-report.schema.json', import.meta.url),
      'utf8',
    ),
  );
  const validate = new Ajv2020({ allErrors: true }).compile(schema);
  // biome-ignore lint/suspicious/noExplicitAny: report JSON walked field by field
  type Report = any;
  const reportsFor = (domain: string): Report[] =>
    posted
      .map((p) => JSON.parse(gunzipSync(p.body).toString('utf8')))
      .filter((r: Report) => r.policies.some((p: Report) => p.policy['policy-domain'] === domain));

  test('the DANE sessions above are reported by HTTPS POST and by mail, valid against the schema', async () => {
    // The sessions of the tests above end up in reports once their (2 s) periods have ended.
    const failure = await waitFor(
      'a report of the TLSA mismatch',
      async () =>
        reportsFor('mismatch.dane.test')
          .flatMap((r: Report) => r.policies.flatMap((p: Report) => p['failure-details'] ?? []))
          .find((f: Report) => f['result-type'] === 'tlsa-invalid'),
      30_000,
    );
    assert.equal(failure['receiving-mx-hostname'], 'mx.mismatch.dane.test');
    assert.equal(failure['receiving-ip'], '127.0.0.1');
    const bogus = await waitFor('a report of the bogus TLSA RRset', async () =>
      reportsFor('bogus.dane.test')
        .flatMap((r: Report) => r.policies.flatMap((p: Report) => p['failure-details'] ?? []))
        .find((f: Report) => f['result-type'] === 'dnssec-invalid'),
    );
    assert.equal(bogus['receiving-mx-hostname'], 'mx.bogus.dane.test');
    const ok = await waitFor('a report of the DANE-EE success', async () =>
      reportsFor('ok.dane.test')
        .flatMap((r: Report) => r.policies)
        .find(
          (p: Report) =>
            p.policy['policy-type'] === 'tlsa' && p.summary['total-successful-session-count'] > 0,
        ),
    );
    assert.match(ok.policy['policy-string'][0], /^3 1 1 [0-9a-f]{64}$/);
    for (const p of posted) {
      assert.equal(p.contentType, 'application/tlsrpt+gzip');
      const json = JSON.parse(gunzipSync(p.body).toString('utf8'));
      assert.equal(validate(json), true, JSON.stringify(validate.errors));
    }
    // ok.dane.test's rua also names a mailbox: the same report as multipart/report mail.
    const mails = await waitFor('the report mail', async () => {
      const all = await bed.mailbox(TLSRPT_MAILBOX);
      return all.length > 0 ? all : undefined;
    });
    assert.match(mails[0]!, /Content-Type: multipart\/report; report-type="tlsrpt"/);
    assert.match(mails[0]!, /TLS-Report-Domain: ok\.dane\.test/);
    assert.match(mails[0]!, /Content-Type: application\/tlsrpt\+gzip/);
  });
});
