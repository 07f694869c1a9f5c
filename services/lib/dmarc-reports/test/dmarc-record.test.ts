import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggregateReportXml, parseDmarcRecord, reportSourceIp, ruaAuthorised } from '../src/index.js';

test('a DMARC record: policy, defaults, mailto rua with size limits stripped, other schemes dropped', () => {
  assert.deepEqual(
    parseDmarcRecord(
      'v=DMARC1; p=reject; sp=none; pct=50; adkim=s; rua=mailto:a@x.example!10m, https://r.example/, mailto:b@y.example',
    ),
    { p: 'reject', sp: 'none', pct: 50, adkim: 's', aspf: 'r', fo: '0', rua: ['a@x.example', 'b@y.example'] },
  );
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=quarantine'), {
    p: 'quarantine',
    sp: 'quarantine',
    pct: 100,
    adkim: 'r',
    aspf: 'r',
    fo: '0',
    rua: [],
  });
  assert.equal(parseDmarcRecord('v=DMARC1; p=none; fo=1:d')?.fo, '1:d');
  assert.equal(parseDmarcRecord('v=DMARC1; p=none; fo=x')?.fo, '0');
  assert.equal(parseDmarcRecord('v=spf1 -all'), undefined);
  assert.equal(parseDmarcRecord('v=DMARC1; p=bogus'), undefined);
});

test('external rua needs <domain>._report._dmarc.<rua-domain> v=DMARC1; the same domain does not', async () => {
  const asked: string[] = [];
  const lookup = async (name: string) => {
    asked.push(name);
    if (name === 'a.example._report._dmarc.ok.example') return [['v=DMARC1']];
    if (name === 'a.example._report._dmarc.spf.example') return [['v=spf1 -all']];
    throw Object.assign(new Error('nxdomain'), { code: 'ENOTFOUND' });
  };
  assert.equal(await ruaAuthorised('a.example', 'a.example', lookup), true);
  assert.equal(await ruaAuthorised('a.example', 'reports.a.example', lookup), true);
  assert.deepEqual(asked, []);
  assert.equal(await ruaAuthorised('a.example', 'ok.example', lookup), true);
  assert.equal(await ruaAuthorised('a.example', 'spf.example', lookup), false);
  assert.equal(await ruaAuthorised('a.example', 'none.example', lookup), false);
});

test('report XML escapes what it carries', () => {
  const xml = aggregateReportXml({
    orgName: 'A & <B>',
    email: 'r@x.example',
    reportId: 'id',
    begin: 0,
    end: 86_400,
    policyDomain: 'x.example',
    policy: { p: 'none', sp: 'none', pct: 100, adkim: 'r', aspf: 'r', fo: '0', rua: [] },
    rows: [],
  });
  assert.match(xml, /<org_name>A &amp; &lt;B&gt;<\/org_name>/);
  assert.match(xml, /<date_range><begin>0<\/begin><end>86399<\/end><\/date_range>/);
});

test('source addresses are written as the appendix C schema takes them', () => {
  assert.equal(reportSourceIp('192.0.2.1'), '192.0.2.1');
  assert.equal(reportSourceIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(reportSourceIp('2001:db8::25'), '2001:db8:0:0:0:0:0:25');
  assert.equal(reportSourceIp('::1'), '0:0:0:0:0:0:0:1');
  assert.equal(reportSourceIp('fe80::'), 'fe80:0:0:0:0:0:0:0');
  assert.equal(reportSourceIp('2001:0DB8:0000:0001:0002:0003:0004:0005'), '2001:db8:0:1:2:3:4:5');
  assert.equal(reportSourceIp('64:ff9b::192.0.2.33'), '64:ff9b:0:0:0:0:c000:221');
});
