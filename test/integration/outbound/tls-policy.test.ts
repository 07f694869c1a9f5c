// TLS policy of outbound-mta against real peers: a domain that requires TLS whose MX (smtp-sink)
// offers no STARTTLS is deferred and nothing is sent in clear; MTA-STS (RFC 8461) with the policy
// served over HTTPS from loopback is enforced: delivered over verified TLS to Postfix when the MX
// matches, deferred when the MX is not in the policy, offers no STARTTLS, or shows a certificate
// for another name. REQUIRETLS (RFC 8689): relayed with the parameter over verified TLS to a
// server that offers it (smtp-server), bounced with 5.7.30 to Postfix (which does not offer it)
// and where no MTA-STS policy verifies the certificate; `TLS-Required: No` delivered in clear
// where MTA-STS enforce defers other mail.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createSecureContext, TLSSocket } from 'node:tls';
import { ensureSelfSignedCertificate, freePort } from '@hermod/local-infra';
import {
  type PostfixPeer,
  requireTool,
  type SmtpSink,
  startPostfixPeer,
  startSmtpSink,
  testWorkdir,
} from '@hermod/test/harness';
import { SMTPServer } from 'smtp-server';
import {
  crlf,
  firstAttemptDeferred,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
let postfix: PostfixPeer;
let sink: SmtpSink;
let https: Server;
let liarTls: { certFile: string; keyFile: string };
let rtlsTls: { certFile: string; keyFile: string };
const SINK_ADDRESS = '127.0.0.6';
const from = `alice@${LOCAL_DOMAIN}`;

/** A self-signed certificate (its own trust anchor) for the given DNS names. */
const certificate = (dir: string, name: string, hosts: string[]) =>
  ensureSelfSignedCertificate(dir, hosts[0], { name, altNames: hosts.slice(1) });

/** RFC 8461 policies by domain, served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
const policies = new Map<string, string>();

function publishSts(domain: string, mx: string[], id: string, mode: 'enforce' | 'testing' = 'enforce') {
  policies.set(
    domain,
    `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: 86400\r\n`,
  );
  bed.dns.add(
    { type: 'TXT', name: `_mta-sts.${domain}`, text: `v=STSv1; id=${id}` },
    { type: 'A', name: `mta-sts.${domain}`, address: '127.0.0.1' },
  );
}

function mx(domain: string, host: string, address: string) {
  bed.dns.add(
    { type: 'MX', name: domain, exchange: host, preference: 10 },
    { type: 'A', name: host, address },
  );
}

/**
 * A lying SMTP server: its reply to STARTTLS carries, in the same plaintext segment, a forged EHLO
 * reply (SIZE 10). A client that keeps plaintext read before the handshake (CVE-2011-0411 class)
 * takes it for the answer to its EHLO over TLS and refuses the message as too large.
 */
async function startLyingServer(host: string, port: number, tlsFiles: { certFile: string; keyFile: string }) {
  const context = createSecureContext({
    cert: await readFile(tlsFiles.certFile),
    key: await readFile(tlsFiles.keyFile),
  });
  const received: Array<{ secure: boolean; data: string }> = [];
  const serve = (stream: Duplex, secure: boolean, upgrade: () => void) => {
    let buffer = '';
    let inData = false;
    let data = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data += buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 5);
          inData = false;
          received.push({ secure, data });
          stream.write('250 2.0.0 queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO')
          stream.write(secure ? '250-liar.test\r\n250 8BITMIME\r\n' : '250-liar.test\r\n250 STARTTLS\r\n');
        else if (verb === 'STAR') {
          stream.write('220 2.0.0 go ahead\r\n250-liar.test\r\n250 SIZE 10\r\n');
          stream.removeListener('data', onData);
          upgrade();
          return;
        } else if (verb === 'DATA') {
          inData = true;
          data = '';
          stream.write('354 go on\r\n');
        } else if (verb === 'QUIT') stream.end('221 bye\r\n');
        else stream.write('250 ok\r\n');
      }
    };
    stream.on('data', onData);
    stream.on('error', () => {});
  };
  const server = createNetServer((socket) => {
    socket.write('220 liar.test ESMTP\r\n');
    serve(socket, false, () => {
      const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
      serve(secure, true, () => {});
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { received, close: () => server.close() };
}

const message = (to: string, subject: string) =>
  crlf(`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`);

const deferred = (spoolId: string) => firstAttemptDeferred(bed, spoolId);

before(async () => {
  await requireTool('openssl', 'apt-get install openssl');
  const dir = await testWorkdir('tls-policy');
  // Postfix's certificate names only mx.sts.test; the policy server's names every policy host.
  const mxCert = await certificate(dir, 'mx', ['mx.sts.test']);
  liarTls = mxCert;
  const webCert = await certificate(dir, 'web', [
    'mta-sts.sts.test',
    'mta-sts.sts-nomatch.test',
    'mta-sts.sts-plain.test',
    'mta-sts.sts-wrongcert.test',
    'mta-sts.sts-testing.test',
    'mta-sts.rtls.test',
    'mta-sts.rtls-postfix.test',
    'mta-sts.rtls-optional.test',
  ]);
  rtlsTls = await certificate(dir, 'rtls', ['mx.rtls.test']);
  const caFile = join(dir, 'ca.pem');
  await writeFile(
    caFile,
    `${await readFile(mxCert.certFile, 'utf8')}${await readFile(webCert.certFile, 'utf8')}${await readFile(rtlsTls.certFile, 'utf8')}`,
  );
  https = createServer(
    { cert: await readFile(webCert.certFile), key: await readFile(webCert.keyFile) },
    (req, res) => {
      const domain = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^mta-sts\./, '');
      const policy = policies.get(domain);
      if (req.url !== '/.well-known/mta-sts.txt' || !policy) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
    },
  );
  const stsPort = await freePort();
  await new Promise<void>((resolve) => https.listen(stsPort, '127.0.0.1', resolve));

  bed = await startOutboundTestbed({
    outboundEnv: {
      OUTBOUND_TLS_CA_FILE: caFile,
      OUTBOUND_MTA_STS_PORT: String(stsPort),
      OUTBOUND_RETRY_SCHEDULE: '1m',
      // TLS sessions counted for RFC 8460 reports (flushed to PostgreSQL at once)
      OUTBOUND_TLSRPT_FROM: `tlsrpt@${LOCAL_DOMAIN}`,
      OUTBOUND_TLSRPT_FLUSH_INTERVAL: '200ms',
    },
  });
  postfix = await startPostfixPeer({
    domains: ['sts.test', 'sts-nomatch.test', 'sts-wrongcert.test', 'sts-testing.test'],
    port: bed.smtpPort,
    hostname: 'mx.sts.test',
    tls: mxCert,
  });
  sink = await startSmtpSink({
    host: SINK_ADDRESS,
    port: bed.smtpPort,
    dumpDirectory: join(dir, 'sink'),
  });
});

after(async () => {
  await sink?.stop();
  await postfix?.stop();
  await bed?.stop();
  https?.close();
});

describe('TLS policy', () => {
  test('a domain that requires TLS, MX without STARTTLS: deferred, nothing sent in clear', async () => {
    mx('secure.test', 'mx.secure.test', SINK_ADDRESS);
    // The recipient domain is configured "deliver remotely, TLS required" (its MX from DNS).
    await bed.hermod.addDomain('secure.test', {
      exchanger: 'remote',
      tls: { requireOutbound: true, mtaSts: 'none' },
    });
    const spoolId = await bed.submit(from, ['ian@secure.test'], message('ian@secure.test', 'tls required'));
    const row = await deferred(spoolId);
    assert.match(row.last_reply ?? '', /TLS required/i);
    assert.match(row.last_reply ?? '', /mx\.secure\.test\[127\.0\.0\.6\]/);
    // The deferral is recorded after the session ended: anything sent would be in the sink by now.
    assert.deepEqual(await sink.dumps(), [], 'smtp-sink received a message in clear');
  });

  test('MTA-STS enforce, matching MX with a valid certificate: delivered over verified TLS', async () => {
    mx('sts.test', 'mx.sts.test', '127.0.0.1');
    publishSts('sts.test', ['mx.sts.test'], 'pol1');
    const spoolId = await bed.submit(from, ['jane@sts.test'], message('jane@sts.test', 'sts ok'));
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23] verified \(mta-sts enforce\)$/);
    const [stored] = await postfix.waitForMessages('jane@sts.test', 1);
    assert.match(stored!.toString('utf8'), /\n\nbody of sts ok\n$/);
    assert.match(
      await postfix.log(),
      /disconnect from localhost\[127\.0\.0\.1\] ehlo=2 starttls=1 mail=1 rcpt=1 data=1/,
    );
  });

  test('MTA-STS enforce, MX not in the policy: deferred, never connected', async () => {
    mx('sts-nomatch.test', 'mx.sts.test', '127.0.0.1');
    publishSts('sts-nomatch.test', ['mx.elsewhere.test'], 'pol1');
    const spoolId = await bed.submit(
      from,
      ['kim@sts-nomatch.test'],
      message('kim@sts-nomatch.test', 'sts nomatch'),
    );
    const row = await deferred(spoolId);
    assert.match(row.last_reply ?? '', /no MX of sts-nomatch\.test matches its MTA-STS policy/);
    assert.deepEqual(await postfix.messages('kim@sts-nomatch.test'), []);
  });

  test('MTA-STS enforce, MX without STARTTLS: deferred, nothing sent in clear', async () => {
    mx('sts-plain.test', 'mx.sts-plain.test', SINK_ADDRESS);
    publishSts('sts-plain.test', ['mx.sts-plain.test'], 'pol1');
    const spoolId = await bed.submit(
      from,
      ['lee@sts-plain.test'],
      message('lee@sts-plain.test', 'sts plain'),
    );
    const row = await deferred(spoolId);
    assert.match(row.last_reply ?? '', /TLS required \(mta-sts enforce\)/);
    assert.deepEqual(await sink.dumps(), [], 'smtp-sink received a message in clear');
  });

  test('MTA-STS enforce, certificate for another name: deferred, not delivered', async () => {
    const logBefore = (await postfix.log()).length;
    mx('sts-wrongcert.test', 'mx.sts-wrongcert.test', '127.0.0.1');
    publishSts('sts-wrongcert.test', ['mx.sts-wrongcert.test'], 'pol1');
    const spoolId = await bed.submit(
      from,
      ['max@sts-wrongcert.test'],
      message('max@sts-wrongcert.test', 'sts wrong cert'),
    );
    const row = await deferred(spoolId);
    assert.match(row.last_reply ?? '', /TLS required \(mta-sts enforce\).*(certificate|altnames|Hostname)/i);
    // Postfix logs the end of that session with its command counts: the handshake failed
    // (starttls=0/1) and no MAIL was ever sent.
    const session = await waitFor(
      'postfix logging the end of the session',
      async () =>
        /disconnect from localhost\[127\.0\.0\.1\] ehlo=1 starttls=0\/1[^\n]*/.exec(
          (await postfix.log()).slice(logBefore),
        )?.[0],
    );
    assert.doesNotMatch(session, /\bmail=/);
    assert.deepEqual(await postfix.messages('max@sts-wrongcert.test'), []);
  });

  // RFC 8461 section 5: testing mode validates as enforce does and reports the failure (RFC 8460),
  // but delivers all the same.
  test('MTA-STS testing, certificate for another name: delivered, the failure counted for the TLS report', async () => {
    mx('sts-testing.test', 'mx.sts-testing.test', '127.0.0.1');
    publishSts('sts-testing.test', ['mx.sts-testing.test'], 'pol1', 'testing');
    const spoolId = await bed.submit(
      from,
      ['nia@sts-testing.test'],
      message('nia@sts-testing.test', 'sts testing wrong cert'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23] \(mta-sts testing\)/);
    const counts = await waitFor('the TLS session counts of sts-testing.test', async () => {
      const { rows } = await bed.hermod.db.pool.query<{
        policy_type: string;
        result_type: string;
        sessions: string;
      }>(
        `SELECT policy_type, result_type, sessions FROM tls_report_counts WHERE policy_domain = 'sts-testing.test'`,
      );
      return rows.length > 0 ? rows : undefined;
    });
    assert.deepEqual(
      counts.map((c) => [c.policy_type, c.result_type, Number(c.sessions)]),
      [['sts', 'certificate-host-mismatch', 1]],
      'a session whose certificate names another host was counted as a success',
    );
  });

  test('STARTTLS response injection: plaintext after the 220 is discarded, the message goes over TLS', async () => {
    const liar = await startLyingServer('127.0.0.11', bed.smtpPort, liarTls);
    try {
      mx('liar.test', 'mx.liar.test', '127.0.0.11');
      const spoolId = await bed.submit(from, ['olga@liar.test'], message('olga@liar.test', 'injection'));
      const [row] = await bed.settled(spoolId, 'delivered');
      assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23]$/);
      assert.equal(liar.received.length, 1);
      assert.equal(liar.received[0]!.secure, true);
      assert.match(liar.received[0]!.data, /body of injection/);
    } finally {
      liar.close();
    }
  });
});

/** smtp-server with STARTTLS (it offers REQUIRETLS once TLS is up), recording each transaction. */
async function startRequireTlsPeer(
  host: string,
  port: number,
  tlsFiles: { certFile: string; keyFile: string },
) {
  const received: Array<{ secure: boolean; requireTls: boolean; mailFromArgs: unknown; data: string }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    hideREQUIRETLS: false,
    cert: await readFile(tlsFiles.certFile),
    key: await readFile(tlsFiles.keyFile),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          secure: session.secure,
          requireTls: (session.envelope as { requireTLS?: boolean }).requireTLS === true,
          mailFromArgs: session.envelope.mailFrom ? session.envelope.mailFrom.args : undefined,
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('REQUIRETLS (RFC 8689)', () => {
  const requireTls = { mailFromArgs: { REQUIRETLS: 'true' } };

  test('MTA-STS enforce, peer offering REQUIRETLS: relayed over verified TLS with the parameter', async () => {
    const peer = await startRequireTlsPeer('127.0.0.12', bed.smtpPort, rtlsTls);
    try {
      mx('rtls.test', 'mx.rtls.test', '127.0.0.12');
      publishSts('rtls.test', ['mx.rtls.test'], 'pol1');
      const spoolId = await bed.submit(
        from,
        ['pia@rtls.test'],
        message('pia@rtls.test', 'requiretls ok'),
        requireTls,
      );
      const [row] = await bed.settled(spoolId, 'delivered');
      assert.match(row!.destination?.outcome?.tls ?? '', /^TLSv1\.[23] verified \(mta-sts enforce\)$/);
      assert.equal(peer.received.length, 1);
      assert.equal(peer.received[0]!.secure, true);
      assert.equal(peer.received[0]!.requireTls, true, 'MAIL FROM carried REQUIRETLS');
      assert.match(peer.received[0]!.data, /body of requiretls ok/);
    } finally {
      await peer.close();
    }
  });

  test('MTA-STS enforce, Postfix (no REQUIRETLS offered): bounced 5.7.30 at once, nothing sent', async () => {
    mx('rtls-postfix.test', 'mx.sts.test', '127.0.0.1');
    publishSts('rtls-postfix.test', ['mx.sts.test'], 'pol1');
    const spoolId = await bed.submit(
      from,
      ['quinn@rtls-postfix.test'],
      message('quinn@rtls-postfix.test', 'requiretls postfix'),
      requireTls,
    );
    const [row] = await bed.settled(spoolId, 'failed');
    assert.equal(row!.destination?.outcome?.status, '5.7.30');
    assert.match(row!.error ?? '', /does not offer REQUIRETLS/);
    assert.deepEqual(await postfix.messages('quinn@rtls-postfix.test'), []);
  });

  test('TLS-Required: No: the MTA-STS policy is ignored for that message only', async () => {
    mx('rtls-optional.test', 'mx.rtls-optional.test', SINK_ADDRESS);
    publishSts('rtls-optional.test', ['mx.rtls-optional.test'], 'pol1');
    const policed = await bed.submit(
      from,
      ['sam@rtls-optional.test'],
      message('sam@rtls-optional.test', 'policed'),
    );
    const row = await deferred(policed);
    assert.match(row.last_reply ?? '', /TLS required \(mta-sts enforce\)/);
    const optional = await bed.submit(
      from,
      ['sam@rtls-optional.test'],
      crlf(
        `From: ${from}`,
        'To: sam@rtls-optional.test',
        'TLS-Required: No',
        'Subject: optional',
        '',
        'body of optional',
      ),
    );
    const [delivered] = await bed.settled(optional, 'delivered');
    assert.match(delivered!.destination?.outcome?.tls ?? '', /^none \(tls-required: no\)$/);
    const dumps = (await sink.dumps()).map((d) => d.toString('utf8'));
    assert.equal(dumps.filter((d) => d.includes('body of optional')).length, 1);
    assert.equal(dumps.filter((d) => d.includes('body of policed')).length, 0);
  });

  test('no policy that verifies the certificate: bounced 5.7.30, nothing sent', async () => {
    const peer = await startRequireTlsPeer('127.0.0.13', bed.smtpPort, rtlsTls);
    try {
      // Same peer software (it offers REQUIRETLS), but the domain has no MTA-STS policy.
      mx('rtls-nopolicy.test', 'mx.rtls.test', '127.0.0.13');
      const spoolId = await bed.submit(
        from,
        ['rex@rtls-nopolicy.test'],
        message('rex@rtls-nopolicy.test', 'requiretls no policy'),
        requireTls,
      );
      const [row] = await bed.settled(spoolId, 'failed');
      assert.equal(row!.destination?.outcome?.status, '5.7.30');
      assert.match(row!.error ?? '', /no verified TLS/);
      // The same peer takes a message without REQUIRETLS on the same route: nothing was held back.
      const plain = await bed.submit(
        from,
        ['rex@rtls-nopolicy.test'],
        message('rex@rtls-nopolicy.test', 'no requiretls'),
      );
      await bed.settled(plain, 'delivered');
      assert.deepEqual(
        peer.received.map((r) => [r.requireTls, /body of (.*)/.exec(r.data)?.[1]?.trim()]),
        [[false, 'no requiretls']],
      );
    } finally {
      await peer.close();
    }
  });
});
