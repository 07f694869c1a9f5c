import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aggregateReportXml, parseDmarcRecord, ruaAuthorised } from '../src/index.js';

test('a DMARC record: policy, defaults, mailto rua with size limits stripped, other schemes dropped', () => {
  assert.deepEqual(
    parseDmarcRecord(
      'v=DMARC1; p=reject; sp=none; pct=50; adkim=s; rua=mailto:a@x.example!10m, https://r.example/, mailto:b@y.example',
    ),
    { p: 'reject', sp: 'none', pct: 50, adkim: 's', aspf: 'r', rua: ['a@x.example', 'b@y.example'] },
  );
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=quarantine'), {
    p: 'quarantine',
    sp: 'quarantine',
    pct: 100,
    adkim: 'r',
    aspf: 'r',
    rua: [],
  });
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
    policy: { p: 'none', sp: 'none', pct: 100, adkim: 'r', aspf: 'r', rua: [] },
    rows: [],
  });
  assert.match(xml, /<org_name>A &amp; &lt;B&gt;<\/org_name>/);
  assert.match(xml, /<date_range><begin>0<\/begin><end>86399<\/end><\/date_range>/);
});
