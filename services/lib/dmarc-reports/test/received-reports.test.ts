import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  aggregateReportXml,
  dmarcReportMessage,
  examineMessage,
  parseDmarcRecord,
  type ReportLimits,
  tlsReportJson,
  tlsReportMessage,
} from '../src/index.js';
import { zipOneFile } from './zip-file.js';

const limits: ReportLimits = { maxReportBytes: 64 * 1024, maxRecords: 100 };

const aggregate = (records = 2) => `<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata><org_name>Example Receiver</org_name><email>noreply@receiver.example</email>
    <report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
  <policy_published><domain>Hermod.Test</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><sp>quarantine</sp><pct>100</pct></policy_published>
  ${Array.from(
    { length: records },
    (_, i) => `<record><row><source_ip>192.0.2.${i + 1}</source_ip><count>${i + 3}</count>
    <policy_evaluated><disposition>${i === 0 ? 'none' : 'quarantine'}</disposition><dkim>${i === 0 ? 'pass' : 'fail'}</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>hermod.test</header_from></identifiers>
    <auth_results><dkim><domain>hermod.test</domain><selector>s1</selector><result>pass</result></dkim><spf><domain>hermod.test</domain><result>pass</result></spf></auth_results></record>`,
  ).join('\n')}
</feedback>`;

function mail(contentType: string, part: Buffer, extra = ''): Buffer {
  return Buffer.from(
    `From: reports@receiver.example\r\nTo: postmaster@hermod.test\r\nSubject: Report Domain: hermod.test\r\n${extra}` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nreport attached\r\n` +
      `--b1\r\nContent-Type: ${contentType}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\n` +
      `${part.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--b1--\r\n`,
  );
}

test('a gzipped DMARC aggregate report is read with its records, pass/fail and dispositions', async () => {
  const found = await examineMessage(
    mail('application/gzip; name="r.xml.gz"', gzipSync(aggregate())),
    limits,
  );
  assert.deepEqual(found.failures, []);
  assert.equal(found.reports.length, 1);
  const report = found.reports[0]!.report;
  assert.equal(report.kind, 'dmarc');
  assert.equal(report.orgName, 'Example Receiver');
  assert.equal(report.policyDomain, 'hermod.test');
  assert.equal(report.begin.toISOString(), '2023-11-14T22:13:20.000Z');
  assert.deepEqual(
    report.records.map((r) => [r.sourceIp, r.result, r.disposition, r.count]),
    [
      ['192.0.2.1', 'pass', 'none', 3],
      ['192.0.2.2', 'fail', 'quarantine', 4],
    ],
  );
});

test('zip and plain XML attachments are read too', async () => {
  const zipped = await examineMessage(
    mail('application/zip', zipOneFile('r.xml', Buffer.from(aggregate(1)))),
    limits,
  );
  assert.deepEqual(zipped.failures, []);
  assert.equal(zipped.reports[0]?.report.records.length, 1);
  const plain = await examineMessage(mail('text/xml', Buffer.from(aggregate(1))), limits);
  assert.equal(plain.reports[0]?.report.reportId, 'r-1');
});

test('a TLS-RPT report (multipart/report, application/tlsrpt+gzip) gives successes and failures per result type', async () => {
  const json = JSON.stringify({
    'organization-name': 'Sender Org',
    'date-range': { 'start-datetime': '2026-12-01T00:00:00Z', 'end-datetime': '2026-12-01T23:59:59Z' },
    'contact-info': 'tlsrpt@sender.example',
    'report-id': 'tls-1',
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-domain': 'hermod.test' },
        summary: { 'total-successful-session-count': 10, 'total-failure-session-count': 3 },
        'failure-details': [
          { 'result-type': 'certificate-expired', 'receiving-ip': '192.0.2.9', 'failed-session-count': 2 },
        ],
      },
    ],
  });
  const raw = Buffer.from(
    'From: tlsrpt@sender.example\r\nTo: postmaster@hermod.test\r\nSubject: Report Domain: hermod.test\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type="tlsrpt"; boundary="b2"\r\n\r\n' +
      '--b2\r\nContent-Type: text/plain\r\n\r\nTLS report\r\n--b2\r\nContent-Type: application/tlsrpt+gzip\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${gzipSync(json).toString('base64')}\r\n--b2--\r\n`,
  );
  const found = await examineMessage(raw, limits);
  assert.deepEqual(found.failures, []);
  const report = found.reports[0]!.report;
  assert.equal(report.kind, 'tlsrpt');
  assert.deepEqual(
    report.records.map((r) => [r.result, r.count, r.sourceIp]),
    [
      ['successful', 10, ''],
      ['certificate-expired', 2, '192.0.2.9'],
      ['unspecified', 1, ''],
    ],
  );
});

test('bombs, oversized files, entities and malformed XML are failures with their reason', async () => {
  const zeros = Buffer.alloc(10 * 1024 * 1024);
  const cases: Array<[string, Buffer, string]> = [
    ['gzip bomb', mail('application/gzip', gzipSync(zeros)), 'too-large'],
    ['zip bomb', mail('application/zip', zipOneFile('r.xml', zeros)), 'too-large'],
    ['zip bomb with a false size', mail('application/zip', zipOneFile('r.xml', zeros, 100)), 'decompress'],
    [
      'not gzip',
      mail('application/gzip', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip')])),
      'decompress',
    ],
    ['malformed XML', mail('text/xml', Buffer.from('<feedback><version>1.0</feedback>')), 'malformed'],
    [
      'entity expansion',
      mail('text/xml', Buffer.from('<!DOCTYPE feedback [<!ENTITY a "aaaa">]><feedback>&a;</feedback>')),
      'malformed',
    ],
    ['not a report', mail('text/xml', Buffer.from('<html><body/></html>')), 'invalid'],
    ['too many records', mail('text/xml', Buffer.from(aggregate(101))), 'too-large'],
  ];
  for (const [name, raw, reason] of cases) {
    const found = await examineMessage(raw, limits);
    assert.equal(found.reports.length, 0, name);
    assert.equal(found.failures[0]?.reason, reason, `${name}: ${JSON.stringify(found.failures)}`);
  }
});

test('a message without report parts gives nothing', async () => {
  const found = await examineMessage(
    Buffer.from('From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n'),
    limits,
  );
  assert.deepEqual(found, { reports: [], failures: [] });
});

test('the reports we send are read back by our own intake with the same numbers', async () => {
  const xml = aggregateReportXml({
    orgName: 'Hermod',
    email: 'dmarc@hermod.test',
    reportId: 'own-1',
    begin: 1_796_515_200,
    end: 1_796_601_600,
    policyDomain: 'sender.example',
    policy: parseDmarcRecord('v=DMARC1; p=reject')!,
    rows: [
      {
        sourceIp: '2001:db8::1',
        count: 5,
        disposition: 'reject',
        dkimAligned: false,
        spfAligned: false,
        headerFrom: 'sender.example',
        spfDomain: 'sender.example',
        spfScope: 'mfrom',
        spfResult: 'fail',
        dkim: [],
      },
    ],
  });
  const common = {
    from: 'r@hermod.test',
    to: 'rua@sender.example',
    policyDomain: 'sender.example',
    begin: 0,
    end: 86_400,
  };
  const dmarc = await examineMessage(
    dmarcReportMessage({ ...common, orgName: 'Hermod', reportId: 'own-1', xml }),
    limits,
  );
  assert.deepEqual(
    dmarc.reports.map((f) => f.report.records.map((r) => [r.sourceIp, r.result, r.disposition, r.count])),
    [[['2001:db8:0:0:0:0:0:1', 'fail', 'reject', 5]]],
  );
  const json = tlsReportJson({
    organizationName: 'Hermod',
    contactInfo: 'r@hermod.test',
    reportId: 'own-2',
    policyDomain: 'sender.example',
    begin: 0,
    end: 86_400,
    policies: [
      {
        policy: { type: 'tlsa', strings: ['3 1 1 ab'], mxHosts: [] },
        successes: 4,
        failures: [
          {
            resultType: 'tlsa-invalid',
            receivingMxHostname: 'mx.sender.example',
            receivingIp: '',
            sessions: 2,
          },
        ],
      },
    ],
  });
  const tls = await examineMessage(
    tlsReportMessage({ ...common, organizationName: 'Hermod', reportId: 'own-2', gzipped: gzipSync(json) }),
    limits,
  );
  assert.deepEqual(
    tls.reports.map((f) => f.report.records.map((r) => [r.result, r.count])),
    [
      [
        ['successful', 4],
        ['tlsa-invalid', 2],
      ],
    ],
  );
});
