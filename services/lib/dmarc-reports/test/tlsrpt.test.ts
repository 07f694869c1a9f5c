import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseTlsRptRecord, tlsReportJson, tlsReportMessage } from '../src/index.js';

const schema = JSON.parse(readFileSync(new URL('./tlsrpt-report.schema.json', import.meta.url), 'utf8'));
const validate = new Ajv2020({ allErrors: true }).compile(schema);

const report = () =>
  tlsReportJson({
    organizationName: 'hermod.test',
    contactInfo: 'tlsrpt@hermod.test',
    reportId: 'example.org.1796515200.86400@hermod.test',
    policyDomain: 'example.org',
    begin: 1_796_515_200,
    end: 1_796_601_600,
    policies: [
      {
        policy: { type: 'tlsa', strings: ['3 1 1 00ff'], mxHosts: [] },
        successes: 7,
        failures: [
          {
            resultType: 'tlsa-invalid',
            receivingMxHostname: 'mx.example.org',
            receivingIp: '192.0.2.1',
            sessions: 2,
          },
          {
            resultType: 'dnssec-invalid',
            receivingMxHostname: 'mx2.example.org',
            receivingIp: '',
            sessions: 1,
          },
        ],
      },
      {
        policy: {
          type: 'sts',
          strings: ['version: STSv1', 'mode: enforce', 'mx: *.example.org', 'max_age: 86400'],
          mxHosts: ['*.example.org'],
        },
        successes: 3,
        failures: [],
      },
      { policy: { type: 'no-policy-found', strings: [], mxHosts: [] }, successes: 1, failures: [] },
    ],
  });

describe('TLS-RPT report (RFC 8460)', () => {
  test('the JSON report is valid against the RFC 8460 section 4.4 schema', () => {
    const json = JSON.parse(report());
    assert.equal(validate(json), true, JSON.stringify(validate.errors));
    assert.equal(json['date-range']['start-datetime'], '2026-12-06T00:00:00Z');
    assert.deepEqual(json.policies[0].summary, {
      'total-successful-session-count': 7,
      'total-failure-session-count': 3,
    });
    assert.equal(json.policies[0]['failure-details'][1]['receiving-ip'], undefined);
  });

  test('the schema catches what the RFC forbids (a test of the test)', () => {
    const json = JSON.parse(report());
    json.policies[0]['failure-details'][0]['result-type'] = 'certificate-bad';
    delete json['report-id'];
    assert.equal(validate(json), false);
    assert.deepEqual((validate.errors ?? []).map((e) => e.keyword).sort(), ['enum', 'required']);
  });

  test('the report mail: multipart/report, report-type tlsrpt, application/tlsrpt+gzip', () => {
    const json = report();
    const mail = tlsReportMessage({
      from: 'tlsrpt@hermod.test',
      to: 'reports@example.org',
      organizationName: 'hermod.test',
      policyDomain: 'example.org',
      reportId: 'r1',
      begin: 1_796_515_200,
      end: 1_796_601_600,
      gzipped: gzipSync(json),
    }).toString('utf8');
    assert.match(mail, /^Content-Type: multipart\/report; report-type="tlsrpt"; boundary="/m);
    assert.match(mail, /^TLS-Report-Domain: example\.org\r$/m);
    assert.match(mail, /^TLS-Report-Submitter: hermod\.test\r$/m);
    assert.match(mail, /^Subject: Report Domain: example\.org Submitter: hermod\.test Report-ID: <r1>\r$/m);
    assert.match(mail, /filename="hermod\.test!example\.org!1796515200!1796601599!r1\.json\.gz"/);
    const b64 = /Content-Transfer-Encoding: base64\r\n\r\n([\s\S]*?)--hermod-tlsrpt/.exec(mail)?.[1] ?? '';
    assert.equal(gunzipSync(Buffer.from(b64, 'base64')).toString('utf8'), json);
  });

  test('the reporting policy record (section 3)', () => {
    assert.deepEqual(parseTlsRptRecord('v=TLSRPTv1; rua=mailto:a@example.org, https://r.example.org/v1'), {
      rua: ['mailto:a@example.org', 'https://r.example.org/v1'],
    });
    assert.deepEqual(parseTlsRptRecord('v=TLSRPTv1;rua=http://insecure.example,mailto:b@example.org'), {
      rua: ['mailto:b@example.org'],
    });
    assert.equal(parseTlsRptRecord('v=TLSRPTv2; rua=mailto:a@example.org'), undefined);
    assert.equal(parseTlsRptRecord('rua=mailto:a@example.org; v=TLSRPTv1'), undefined);
  });
});
