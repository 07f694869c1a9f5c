// DMARC aggregate reports (RFC 7489 section 7.2, appendix C): real mx, routing, mda and
// outbound-mta processes, a real DNS server over UDP serving the senders' SPF and DMARC records,
// and Postfix's smtp-sink as the report receiver. mx records each evaluation; outbound-mta's report
// job sums a period into XML, gzips it and sends it through the outbound queue to the rua address,
// after the external-destination check (`<domain>._report._dmarc.<rua-domain>`).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  parseWithParsedmarc,
  rfc7489Schema,
  type SmtpSink,
  startHermod,
  startSmtpSink,
  testWorkdir,
  xmllintErrors,
} from '@hermod/test/harness';
import { XMLParser } from 'fast-xml-parser';
import { expectCode, openTransaction } from '../mx/smtp-wire.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed XML is walked field by field
type Any = any;

let hermod: HermodPlatform;
let dns: DnsTestServer;
let sink: SmtpSink;

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  const smtpPort = await freePort();
  sink = await startSmtpSink({ port: smtpPort, dumpDirectory: await testWorkdir('dmarc-sink') });
  dns.set([
    // sender.example: SPF allows loopback; DMARC p=none with an external rua that authorises it.
    { type: 'TXT', name: 'sender.example', text: 'v=spf1 ip4:127.0.0.1 -all' },
    {
      type: 'TXT',
      name: '_dmarc.sender.example',
      text: 'v=DMARC1; p=none; rua=mailto:dmarc@reports.example!10m',
    },
    { type: 'TXT', name: 'sender.example._report._dmarc.reports.example', text: 'v=DMARC1' },
    { type: 'MX', name: 'reports.example', exchange: 'mx.reports.example', preference: 10 },
    { type: 'A', name: 'mx.reports.example', address: '127.0.0.1' },
    // unauth.example names a rua in a domain that does not authorise it: no report may go there.
    { type: 'TXT', name: 'unauth.example', text: 'v=spf1 ip4:127.0.0.1 -all' },
    {
      type: 'TXT',
      name: '_dmarc.unauth.example',
      text: 'v=DMARC1; p=quarantine; rua=mailto:dmarc@elsewhere.example',
    },
    { type: 'MX', name: 'elsewhere.example', exchange: 'mx.reports.example', preference: 10 },
  ]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'outbound-mta', 'mx'],
    env: {
      mx: { MX_DNS_SERVERS: dns.address, MX_DMARC_ENFORCE: 'false' },
      'outbound-mta': {
        OUTBOUND_DNS_SERVERS: dns.address,
        OUTBOUND_SMTP_PORT: String(smtpPort),
        OUTBOUND_POLL_INTERVAL: '250ms',
        OUTBOUND_RETRY_SCHEDULE: '2s',
        OUTBOUND_DMARC_REPORT_FROM: 'dmarc-reports@hermod.test',
        OUTBOUND_DMARC_REPORT_ORG: 'Hermod Test',
        OUTBOUND_DMARC_REPORT_PERIOD: '3s',
        OUTBOUND_DMARC_REPORT_INTERVAL: '500ms',
      },
    },
  });
  await hermod.addDomain('hermod.test');
  await new AccountStore(hermod.db.pool).create({ address: 'user@hermod.test', password: 'dmarc-test-pass' });
});

after(async () => {
  await hermod?.stop();
  await sink?.stop();
  await dns?.stop();
});

async function send(mailFrom: string, headerFrom: string, subject: string): Promise<void> {
  const wire = await openTransaction(hermod.ports.mx, mailFrom, ['user@hermod.test']);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: ${headerFrom}\r\nTo: user@hermod.test\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`);
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT').catch(() => '');
  } finally {
    wire.close();
  }
}

/** The gzipped XML attachment of a report mail (base64 MIME part). */
function reportXml(mail: string): { xml: string; filename: string; subject: string } {
  const filename = /filename="([^"]+)"/.exec(mail)?.[1] ?? '';
  const subject = /^Subject: (.*)$/m.exec(mail)?.[1] ?? '';
  const part = mail.split(/\r?\n--hermod-dmarc-/).find((p) => p.includes('application/gzip'));
  assert.ok(part, 'an application/gzip part');
  const b64 = part.split(/\r?\n\r?\n/)[1]?.replace(/[^A-Za-z0-9+/=]/g, '') ?? '';
  return { xml: gunzipSync(Buffer.from(b64, 'base64')).toString('utf8'), filename, subject };
}

test('evaluations become an RFC 7489 aggregate report, gzipped and mailed to the authorised rua', async () => {
  await send('alice@sender.example', 'Alice <alice@sender.example>', 'aligned 1');
  await send('alice@sender.example', 'Alice <alice@sender.example>', 'aligned 2');
  // fail.example publishes no SPF (none) and there is no DKIM signature: DMARC fails for sender.example.
  await send('bounce@fail.example', 'Alice <alice@sender.example>', 'not aligned');
  await send('carol@unauth.example', 'Carol <carol@unauth.example>', 'unauthorised rua');

  // The evaluations may straddle a period boundary: wait until the reports account for all three.
  const parser = new XMLParser({
    isArray: (_name, jpath) =>
      ['feedback.record', 'feedback.record.auth_results.dkim', 'feedback.record.auth_results.spf'].includes(
        String(jpath),
      ),
  });
  const mails = await eventually(
    'report mails at the sink covering all three messages',
    async () => {
      const found = (await sink.dumps())
        .map((d) => d.toString('utf8'))
        .filter((text) => text.includes('Report Domain: sender.example'));
      const counted = found
        .flatMap((m) => parser.parse(reportXml(m).xml).feedback.record as Array<Any>)
        .reduce((n, r) => n + r.row.count, 0);
      return counted === 3 ? found : undefined;
    },
    60_000,
  );
  const records: Array<Any> = [];
  for (const mail of mails) {
    assert.match(mail, /^To: dmarc@reports\.example$/m);
    const { xml, filename, subject } = reportXml(mail);
    assert.match(subject, /^Report Domain: sender\.example Submitter: Hermod Test Report-ID: <[^>]+>$/);
    assert.match(filename, /^Hermod_Test!sender\.example!\d+!\d+!.+\.xml\.gz$/);
    const feedback = parser.parse(xml).feedback;
    assert.ok(feedback, 'root element feedback');
    const meta = feedback.report_metadata;
    assert.equal(meta.org_name, 'Hermod Test');
    assert.equal(meta.email, 'dmarc-reports@hermod.test');
    assert.ok(String(meta.report_id).length > 0);
    assert.ok(Number.isInteger(meta.date_range.begin) && meta.date_range.end > meta.date_range.begin);
    assert.deepEqual(feedback.policy_published, {
      domain: 'sender.example',
      adkim: 'r',
      aspf: 'r',
      p: 'none',
      sp: 'none',
      pct: 100,
      fo: 0,
    });
    // Checked by others: RFC 7489 appendix C's schema (xmllint) and parsedmarc.
    assert.deepEqual(await xmllintErrors(xml, rfc7489Schema), []);
    const parsed = await parseWithParsedmarc(xml);
    assert.equal(parsed.report_metadata.org_name, 'Hermod Test');
    assert.equal(parsed.policy_published.domain, 'sender.example');
    assert.equal(
      parsed.records.reduce((n: number, r: Any) => n + r.count, 0),
      (feedback.record as Array<Any>).reduce((n, r) => n + r.row.count, 0),
    );
    for (const r of feedback.record as Array<Any>) {
      assert.equal(r.row.source_ip, '127.0.0.1');
      assert.ok(Number.isInteger(r.row.count) && r.row.count > 0);
      assert.equal(r.identifiers.header_from, 'sender.example');
      assert.equal(r.row.policy_evaluated.disposition, 'none');
      assert.equal(r.row.policy_evaluated.dkim, 'fail', 'no DKIM signature: not aligned');
      assert.ok(r.auth_results.spf.length >= 1, 'auth_results has an spf element');
      records.push(r);
    }
  }
  const count = (spf: 'pass' | 'fail') =>
    records.filter((r) => r.row.policy_evaluated.spf === spf).reduce((n, r) => n + r.row.count, 0);
  assert.equal(count('pass'), 2, 'two messages with aligned SPF');
  assert.equal(count('fail'), 1, 'one message with unaligned SPF');
  for (const r of records) {
    assert.deepEqual(
      r.auth_results.spf,
      r.row.policy_evaluated.spf === 'pass'
        ? [{ domain: 'sender.example', scope: 'mfrom', result: 'pass' }]
        : [{ domain: 'fail.example', scope: 'mfrom', result: 'none' }],
    );
  }

  // unauth.example's period is handled (its evaluations deleted) without any mail to elsewhere.example.
  await eventually(
    'unauth.example evaluations handled',
    async () => {
      const { rows } = await hermod.db.pool.query(
        `SELECT 1 FROM dmarc_evaluations WHERE policy_domain = 'unauth.example'`,
      );
      return rows.length === 0 ? true : undefined;
    },
    30_000,
  );
  const { rows: toElsewhere } = await hermod.db.pool.query(
    `SELECT 1 FROM spool_recipients WHERE address = 'dmarc@elsewhere.example'`,
  );
  assert.equal(toElsewhere.length, 0, 'no report to an rua that does not authorise the domain');
  const { rows: reports } = await hermod.db.pool.query(
    `SELECT 1 FROM spool_recipients WHERE address = 'dmarc@reports.example'`,
  );
  assert.equal(reports.length, mails.length, 'one report mail per period, none twice');
});
