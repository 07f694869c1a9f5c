// Reports sent to our own domains' rua address (issue 19): real mx, routing and mda processes; the
// reports arrive over SMTP at postmaster@hermod.test like any mail. mda delivers them and then reads
// them: a gzipped DMARC aggregate report (RFC 7489 appendix C) and a TLS-RPT report (RFC 8460,
// multipart/report with application/tlsrpt+gzip) are stored and shown by `hermod reports`, with
// metrics per reporting organisation and result; a malformed report, a gzip bomb and a message over
// the size limit are counted as failures and delivered all the same.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { AccountStore } from '@hermod/accounts';
import { defaultReportLimits, examineMessage, storeReceivedReports } from '@hermod/dmarc-reports';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  inboxMessages,
  run,
  startHermod,
} from '@hermod/test/harness';
import { expectCode, openTransaction } from '../mx/smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: {
      mx: { MX_DNS_SERVERS: dns.address },
      mda: { MDA_REPORT_MAX_FILE_BYTES: String(1024 * 1024), MDA_REPORT_MAX_MESSAGE_BYTES: String(200_000) },
    },
  });
  await hermod.addDomain('hermod.test');
  await new AccountStore(hermod.db.pool).create({
    address: 'postmaster@hermod.test',
    password: 'reports-pass',
  });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

async function send(from: string, message: string): Promise<void> {
  const wire = await openTransaction(hermod.ports.mx, from, ['postmaster@hermod.test']);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`);
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT').catch(() => '');
  } finally {
    wire.close();
  }
}

const b64 = (data: Buffer) => data.toString('base64').replace(/.{76}/g, '$&\n');

function withAttachment(from: string, subject: string, type: string, data: Buffer, padding = ''): string {
  return [
    `From: ${from}`,
    'To: postmaster@hermod.test',
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="part"',
    '',
    '--part',
    'Content-Type: text/plain',
    '',
    `This is a DMARC aggregate report.${padding}`,
    '--part',
    `Content-Type: ${type}`,
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="receiver.example!hermod.test!1796515200!1796601599.xml.gz"',
    '',
    b64(data),
    '--part--',
  ].join('\n');
}

const aggregateXml = `<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>Receiver Example</org_name>
    <email>dmarc-noreply@receiver.example</email>
    <report_id>agg-20261206</report_id>
    <date_range><begin>1796515200</begin><end>1796601599</end></date_range>
  </report_metadata>
  <policy_published><domain>hermod.test</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp><pct>100</pct><fo>0</fo></policy_published>
  <record>
    <row><source_ip>192.0.2.10</source_ip><count>7</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>hermod.test</header_from></identifiers>
    <auth_results><dkim><domain>hermod.test</domain><selector>s1</selector><result>pass</result></dkim>
      <spf><domain>hermod.test</domain><scope>mfrom</scope><result>pass</result></spf></auth_results>
  </record>
  <record>
    <row><source_ip>198.51.100.4</source_ip><count>2</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>hermod.test</header_from></identifiers>
    <auth_results><spf><domain>spoofer.example</domain><scope>mfrom</scope><result>fail</result></spf></auth_results>
  </record>
</feedback>
`;

const tlsReport = JSON.stringify({
  'organization-name': 'Sender Example',
  'date-range': { 'start-datetime': '2026-12-06T00:00:00Z', 'end-datetime': '2026-12-06T23:59:59Z' },
  'contact-info': 'tlsrpt@sender.example',
  'report-id': 'tls-20261206',
  policies: [
    {
      policy: {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: enforce'],
        'policy-domain': 'hermod.test',
      },
      summary: { 'total-successful-session-count': 40, 'total-failure-session-count': 3 },
      'failure-details': [
        {
          'result-type': 'certificate-expired',
          'receiving-mx-hostname': 'mx.hermod.test',
          'failed-session-count': 2,
        },
        { 'result-type': 'starttls-not-supported', 'receiving-ip': '192.0.2.25', 'failed-session-count': 1 },
      ],
    },
  ],
});

interface Listed {
  id: number;
  kind: string;
  orgName: string;
  policyDomain: string;
  passed: number;
  failed: number;
  records: number;
}

async function cli(args: string[]): Promise<string> {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${hermod.services.get('mda')!.options.opsPort}/metrics`)).text();
}

const metric = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);

test('DMARC and TLS-RPT reports at the rua address are stored, listed and counted; unreadable ones are delivered and counted', async () => {
  await send(
    'dmarc-noreply@receiver.example',
    withAttachment(
      'dmarc-noreply@receiver.example',
      'Report Domain: hermod.test Submitter: receiver.example Report-ID: agg-20261206',
      'application/gzip',
      gzipSync(aggregateXml),
    ),
  );
  await send(
    'tlsrpt@sender.example',
    [
      'From: tlsrpt@sender.example',
      'To: postmaster@hermod.test',
      'Subject: Report Domain: hermod.test Submitter: sender.example Report-ID: <tls-20261206>',
      'TLS-Report-Domain: hermod.test',
      'TLS-Report-Submitter: sender.example',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type="tlsrpt"; boundary="tls"',
      '',
      '--tls',
      'Content-Type: text/plain',
      '',
      'This is an aggregate TLS report from sender.example',
      '--tls',
      'Content-Type: application/tlsrpt+gzip',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="sender.example!hermod.test!1796515200!1796601599.json.gz"',
      '',
      b64(gzipSync(tlsReport)),
      '--tls--',
    ].join('\n'),
  );
  // Three that cannot be read: broken XML, a gzip bomb (10 MiB of zeros, over the 1 MiB limit) and a
  // message over MDA_REPORT_MAX_MESSAGE_BYTES (a valid report, never opened).
  await send(
    'bad@receiver.example',
    withAttachment(
      'bad@receiver.example',
      'broken',
      'text/xml',
      Buffer.from('<feedback><version>1.0</feedback>'),
    ),
  );
  await send(
    'bomb@receiver.example',
    withAttachment(
      'bomb@receiver.example',
      'bomb',
      'application/gzip',
      gzipSync(Buffer.alloc(10 * 1024 * 1024)),
    ),
  );
  await send(
    'big@receiver.example',
    withAttachment(
      'big@receiver.example',
      'large',
      'application/gzip',
      gzipSync(aggregateXml),
      `\n${'padding line of a large report message\n'.repeat(6_000)}`,
    ),
  );

  const failures = await eventually(
    'three unreadable reports counted by mda',
    async () => {
      const text = await metrics();
      const counted = {
        malformed: metric(
          text,
          /hermod_received_report_failures_total\{kind="dmarc",reason="malformed"[^}]*\} (\d+)/,
        ),
        bomb: metric(
          text,
          /hermod_received_report_failures_total\{kind="dmarc",reason="too-large"[^}]*\} (\d+)/,
        ),
        message: metric(
          text,
          /hermod_received_report_failures_total\{kind="any",reason="too-large"[^}]*\} (\d+)/,
        ),
      };
      return counted.malformed + counted.bomb + counted.message === 3 ? counted : undefined;
    },
    60_000,
  );
  assert.deepEqual(failures, { malformed: 1, bomb: 1, message: 1 });
  // Every message was delivered, the unreadable ones included.
  const inbox = await eventually('five messages in the postmaster INBOX', async () => {
    const messages = await inboxMessages(hermod.db.pool, 'postmaster@hermod.test');
    return messages.length === 5 ? messages : undefined;
  });
  assert.equal(inbox.filter((m) => /^Subject: (broken|bomb|large)$/m.test(m)).length, 3);

  const listed = await eventually('two reports stored', async () => {
    const reports = JSON.parse(
      await cli(['reports', 'list', '--domain', 'hermod.test', '--json']),
    ) as Listed[];
    return reports.length === 2 ? reports : undefined;
  });
  const dmarc = listed.find((r) => r.kind === 'dmarc');
  const tls = listed.find((r) => r.kind === 'tlsrpt');
  assert.deepEqual(
    dmarc && {
      org: dmarc.orgName,
      domain: dmarc.policyDomain,
      passed: dmarc.passed,
      failed: dmarc.failed,
      records: dmarc.records,
    },
    { org: 'Receiver Example', domain: 'hermod.test', passed: 7, failed: 2, records: 2 },
  );
  assert.deepEqual(
    tls && {
      org: tls.orgName,
      domain: tls.policyDomain,
      passed: tls.passed,
      failed: tls.failed,
      records: tls.records,
    },
    { org: 'Sender Example', domain: 'hermod.test', passed: 40, failed: 3, records: 3 },
  );
  // The text listing and the filters.
  const text = await cli(['reports', 'list', '--since', '2026-12-06']);
  assert.match(text, /dmarc\s+hermod\.test .* Receiver Example {2}pass 7 {2}fail 2/);
  assert.match(text, /tlsrpt hermod\.test .* Sender Example {2}successful 40 {2}failed 3/);
  assert.match(await cli(['reports', 'list', '--since', '2027-01-01']), /no received reports/);
  assert.match(await cli(['reports', 'list', '--domain', 'other.test']), /no received reports/);
  const shown = await cli(['reports', 'show', String(tls!.id)]);
  assert.match(shown, /certificate-expired\s+2/);
  assert.match(shown, /192\.0\.2\.25\s+starttls-not-supported\s+1/);

  // Metrics per reporting organisation and result.
  const text2 = await metrics();
  assert.equal(
    metric(
      text2,
      /hermod_received_dmarc_messages_total\{org="Receiver Example",result="pass",disposition="none"[^}]*\} (\d+)/,
    ),
    7,
  );
  assert.equal(
    metric(
      text2,
      /hermod_received_dmarc_messages_total\{org="Receiver Example",result="fail",disposition="reject"[^}]*\} (\d+)/,
    ),
    2,
  );
  assert.equal(
    metric(
      text2,
      /hermod_received_tlsrpt_sessions_total\{org="Sender Example",result="successful"[^}]*\} (\d+)/,
    ),
    40,
  );
  assert.equal(
    metric(
      text2,
      /hermod_received_tlsrpt_sessions_total\{org="Sender Example",result="certificate-expired"[^}]*\} (\d+)/,
    ),
    2,
  );
});

test('a message delivered again stores its reports once', async () => {
  const found = await examineMessage(
    Buffer.from(withAttachment('x@receiver.example', 'again', 'application/gzip', gzipSync(aggregateXml))),
    defaultReportLimits,
  );
  assert.equal(found.reports.length, 1);
  const spoolId = randomUUID();
  assert.equal((await storeReceivedReports(hermod.db.pool, spoolId, found.reports)).length, 1);
  assert.equal((await storeReceivedReports(hermod.db.pool, spoolId, found.reports)).length, 0);
});
