// MTA-STS policy hosting for our own domains (RFC 8461 section 3.2): real routing service, real
// nats-server and PostgreSQL, real HTTP requests to routing's policy listener with the Host header
// naming `mta-sts.<domain>`; the policy follows the live domain config.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { eventually, type HermodPlatform, startHermod } from '@hermod/test/harness';

let hermod: HermodPlatform;

before(async () => {
  hermod = await startHermod({
    services: ['routing'],
    env: {
      routing: { ROUTING_MX_NAMES: 'mx1.hermod.test,mx2.hermod.test', ROUTING_MTA_STS_MAX_AGE: '86400' },
    },
  });
});

after(async () => {
  await hermod?.stop();
});

interface Fetched {
  status: number;
  contentType: string | undefined;
  body: string;
}

function fetchPolicy(host: string, path = '/.well-known/mta-sts.txt'): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: hermod.ports.mtaSts, path, method: 'GET', headers: { host } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The policy text as RFC 8461 section 3.2 reads it: CRLF lines of `key: value`. */
function policyFields(body: string): Array<[string, string]> {
  assert.ok(body.endsWith('\r\n'), 'lines end with CRLF');
  return body
    .slice(0, -2)
    .split('\r\n')
    .map((line) => {
      const m = /^([A-Za-z0-9_]+): (.+)$/.exec(line);
      assert.ok(m, `policy line ${JSON.stringify(line)}`);
      return [m[1]!, m[2]!] as [string, string];
    });
}

test('serves the policy of a domain with MTA-STS on: text/plain, version, mode, mx lines, max_age', async () => {
  await hermod.addDomain('sts.example', { tls: { mtaSts: 'enforce' } });
  const fetched = await eventually('the sts.example policy', async () => {
    const r = await fetchPolicy('mta-sts.sts.example');
    return r.status === 200 ? r : undefined;
  });
  assert.match(fetched.contentType ?? '', /^text\/plain\b/);
  assert.deepEqual(policyFields(fetched.body), [
    ['version', 'STSv1'],
    ['mode', 'enforce'],
    ['mx', 'mx1.hermod.test'],
    ['mx', 'mx2.hermod.test'],
    ['max_age', '86400'],
  ]);
  // The Host header decides, case and port do not matter.
  const upper = await fetchPolicy('MTA-STS.Sts.Example:443');
  assert.equal(upper.status, 200);
  assert.equal(upper.body, fetched.body);
});

test("a domain's own MX list (tls.mtaStsMx, from MailDomain dns.mxHosts) is the policy's mx lines", async () => {
  await hermod.addDomain('own-mx.example', {
    tls: { mtaSts: 'testing', mtaStsMx: ['mail.own-mx.example', '*.backup.own-mx.example'] },
  });
  const fetched = await eventually('the own-mx.example policy', async () => {
    const r = await fetchPolicy('mta-sts.own-mx.example');
    return r.status === 200 ? r : undefined;
  });
  assert.deepEqual(policyFields(fetched.body), [
    ['version', 'STSv1'],
    ['mode', 'testing'],
    ['mx', 'mail.own-mx.example'],
    ['mx', '*.backup.own-mx.example'],
    ['max_age', '86400'],
  ]);
});

test('404 for unknown domains, domains without a policy, other paths and other hosts', async () => {
  await hermod.addDomain('plain.example', {});
  // plain.example is known once a later write is visible: marker.example, written after it, answers.
  await hermod.addDomain('marker.example', { tls: { mtaSts: 'enforce' } });
  await eventually('the marker policy', async () =>
    (await fetchPolicy('mta-sts.marker.example')).status === 200 ? true : undefined,
  );
  assert.equal((await fetchPolicy('mta-sts.plain.example')).status, 404);
  assert.equal((await fetchPolicy('mta-sts.unknown.example')).status, 404);
  assert.equal((await fetchPolicy('mta-sts.marker.example', '/')).status, 404);
  assert.equal((await fetchPolicy('mta-sts.marker.example', '/.well-known/other.txt')).status, 404);
  assert.equal((await fetchPolicy('marker.example')).status, 404);
  assert.equal((await fetchPolicy('www.marker.example')).status, 404);
});

test('the served policy follows live domain config changes', async () => {
  await hermod.addDomain('live.example', { tls: { mtaSts: 'testing' } });
  await eventually('mode testing', async () => {
    const r = await fetchPolicy('mta-sts.live.example');
    return r.status === 200 && r.body.includes('mode: testing\r\n') ? true : undefined;
  });
  await hermod.addDomain('live.example', { tls: { mtaSts: 'enforce', mtaStsMx: ['mx.live.example'] } });
  const enforced = await eventually('mode enforce with the domain MX', async () => {
    const r = await fetchPolicy('mta-sts.live.example');
    return r.status === 200 && r.body.includes('mode: enforce\r\n') ? r : undefined;
  });
  assert.deepEqual(
    policyFields(enforced.body).filter(([k]) => k === 'mx'),
    [['mx', 'mx.live.example']],
  );
  await hermod.addDomain('live.example', { tls: { mtaSts: 'none' } });
  await eventually('the policy withdrawn (404)', async () =>
    (await fetchPolicy('mta-sts.live.example')).status === 404 ? true : undefined,
  );
});
