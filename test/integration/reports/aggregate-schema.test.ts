// Our DMARC aggregate reports (RFC 7489 section 7.2) checked by others: the schema of RFC 7489
// appendix C with xmllint (Debian's libxml2-utils) and the independent parser parsedmarc (PyPI,
// in a venv cached under ~/.cache/hermod). The report mailed by the real services is checked the
// same way in dmarc-aggregate.test.ts.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AggregateReport, aggregateReportXml, parseDmarcRecord } from '@hermod/dmarc-reports';
import { parseWithParsedmarc, rfc7489Schema, testWorkdir, xmllintErrors } from '@hermod/test/harness';

const report: AggregateReport = {
  orgName: 'Hermod & Co <Test>',
  email: 'dmarc-reports@hermod.test',
  reportId: 'a1b2c3',
  begin: 1_796_515_200,
  end: 1_796_601_600,
  policyDomain: 'sender.example',
  policy: parseDmarcRecord(
    'v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=50; fo=1; rua=mailto:d@sender.example',
  )!,
  rows: [
    {
      sourceIp: '192.0.2.1',
      count: 3,
      disposition: 'none',
      dkimAligned: true,
      spfAligned: true,
      headerFrom: 'sender.example',
      spfDomain: 'sender.example',
      spfScope: 'mfrom',
      spfResult: 'pass',
      dkim: [
        { domain: 'sender.example', selector: 's1', result: 'pass' },
        { domain: 'esp.example', selector: 'k2', result: 'fail' },
      ],
    },
    {
      sourceIp: '2001:db8::25',
      count: 1,
      disposition: 'reject',
      dkimAligned: false,
      spfAligned: false,
      headerFrom: 'sender.example',
      spfDomain: 'mx.elsewhere.example',
      spfScope: 'helo',
      spfResult: 'softfail',
      dkim: [],
    },
    {
      sourceIp: '::ffff:198.51.100.7',
      count: 2,
      disposition: 'quarantine',
      dkimAligned: false,
      spfAligned: false,
      headerFrom: 'sender.example',
      spfDomain: 'bounce.example',
      spfScope: 'mfrom',
      spfResult: 'none',
      dkim: [{ domain: 'sender.example', result: 'none' }],
    },
  ],
};

test('the RFC 7489 appendix C schema as printed does not compile (its target namespace has no prefix)', async () => {
  const schema = await readFile(rfc7489Schema, 'utf8');
  const asPrinted = join(await testWorkdir('xsd'), 'rfc-namespace.xsd');
  await writeFile(
    asPrinted,
    schema.replace(
      '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">',
      '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://dmarc.org/dmarc-xml/0.1">',
    ),
  );
  const errors = await xmllintErrors(aggregateReportXml(report), asPrinted);
  assert.ok(
    errors.some((e) => /References from this schema to components in no namespace/.test(e)),
    errors.join('\n'),
  );
});

test('an aggregate report validates against the RFC 7489 appendix C schema', async () => {
  assert.deepEqual(await xmllintErrors(aggregateReportXml(report), rfc7489Schema), []);
});

test('parsedmarc reads the aggregate report with the numbers we put in', async () => {
  const parsed = await parseWithParsedmarc(aggregateReportXml(report));
  assert.equal(parsed.report_metadata.org_name, 'Hermod & Co <Test>');
  assert.equal(parsed.report_metadata.org_email, 'dmarc-reports@hermod.test');
  assert.equal(parsed.report_metadata.report_id, 'a1b2c3');
  assert.equal(parsed.report_metadata.begin_date, '2026-12-06 00:00:00');
  assert.equal(parsed.report_metadata.end_date, '2026-12-06 23:59:59');
  assert.deepEqual(
    {
      domain: parsed.policy_published.domain,
      p: parsed.policy_published.p,
      sp: parsed.policy_published.sp,
      adkim: parsed.policy_published.adkim,
      pct: String(parsed.policy_published.pct),
      fo: parsed.policy_published.fo,
    },
    { domain: 'sender.example', p: 'reject', sp: 'quarantine', adkim: 's', pct: '50', fo: '1' },
  );
  const rows = parsed.records.map((r: Record<string, Record<string, unknown>>) => ({
    ip: r.source!.ip_address,
    count: r.count,
    disposition: r.policy_evaluated!.disposition,
    dmarc: (r.alignment as Record<string, boolean>).dmarc,
  }));
  assert.deepEqual(rows, [
    { ip: '192.0.2.1', count: 3, disposition: 'none', dmarc: true },
    // The same address, written in full as the schema's pattern asks.
    { ip: '2001:db8:0:0:0:0:0:25', count: 1, disposition: 'reject', dmarc: false },
    { ip: '198.51.100.7', count: 2, disposition: 'quarantine', dmarc: false },
  ]);
  assert.deepEqual(
    parsed.records[0].auth_results.dkim.map((d: Record<string, string>) => [d.domain, d.selector, d.result]),
    [
      ['sender.example', 's1', 'pass'],
      ['esp.example', 'k2', 'fail'],
    ],
  );
  assert.deepEqual(parsed.records[1].auth_results.spf[0], {
    domain: 'mx.elsewhere.example',
    scope: 'helo',
    result: 'softfail',
    human_result: null,
  });
});
