// Outbound filtering on submission against a real clamd and Rspamd: an authenticated user's
// infected message (swaks attaching the EICAR file) and spam (GTUBE, checked by Rspamd as the
// user's outbound mail) are refused with 554 5.7.1, counted and logged; clean mail goes through.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import {
  ClamdPeer,
  DnsTestServer,
  EICAR,
  type HermodPlatform,
  requireTool,
  run,
  startHermod,
  testWorkdir,
} from '@hermod/test/harness';
import { waitForMessages } from '../mx/mx-fixture.js';
import { RspamdPeer } from '../mx/rspamd-peer.js';

let hermod: HermodPlatform;
let clamd: ClamdPeer;
let rspamd: RspamdPeer;
let dns: DnsTestServer;

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function submit(subject: string, extra: string[]) {
  return run(
    'swaks',
    [
      '--server',
      '127.0.0.1',
      '--port',
      String(hermod.ports.submission),
      '--helo',
      'client.test',
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'alice-password-1',
      '--from',
      'alice@example.test',
      '--to',
      'bob@example.test',
      '--header',
      `Subject: ${subject}`,
      '--timeout',
      '30',
      ...extra,
    ],
    { timeoutMs: 60_000 },
  );
}

async function metrics(): Promise<string> {
  const msa = hermod.services.get('msa');
  assert.ok(msa);
  return (await fetch(`http://127.0.0.1:${msa.options.opsPort}/metrics`)).text();
}

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  dns = new DnsTestServer();
  await dns.start();
  clamd = new ClamdPeer();
  rspamd = new RspamdPeer();
  await Promise.all([clamd.start(), rspamd.start(dns.address)]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    env: { msa: { CLAMD_ADDRESS: clamd.address, RSPAMD_URL: rspamd.url, RSPAMD_TIMEOUT_MS: '20000' } },
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@example.test', password: 'alice-password-1' });
  await accounts.create({ address: 'bob@example.test', password: 'bob-password-12' });
});

after(async () => {
  await hermod?.stop();
  await Promise.all([clamd?.stop(), rspamd?.stop()]);
  await dns?.stop();
});

describe('outbound filtering', () => {
  test('an infected submission is refused with 554 5.7.1 naming the signature', async () => {
    const dir = await testWorkdir('msa-eicar');
    await writeFile(join(dir, 'eicar.com'), EICAR);
    const result = await submit('infected', ['--attach', `@${join(dir, 'eicar.com')}`]);
    assert.match(result.stdout, /<~\* 554 5\.7\.1 Message refused: malware found \(Hermod\.Test\.EICAR/);
  });

  test('spam (GTUBE) is refused with 554 5.7.1 by the outbound check', async () => {
    const result = await submit('spam', ['--body', `${GTUBE}\r\n`]);
    assert.match(result.stdout, /<~\* 554 5\.7\.1 Message refused as spam/);
  });

  test('clean mail is accepted, carries no scanner fields, and both refusals were counted', async () => {
    const result = await submit('clean outbound', ['--body', 'A perfectly ordinary note.\r\n']);
    assert.match(result.stdout, /<~ {2}250 2\.0\.0 Ok: queued as/);
    const [stored] = await waitForMessages(hermod.db.pool, 'bob@example.test', 1);
    assert.match(stored?.text ?? '', /Subject: clean outbound/);
    assert.doesNotMatch(stored?.text ?? '', /^X-Virus-Scanned:/m);
    const text = await metrics();
    assert.match(text, /hermod_msa_refused_content_total\{reason="malware",service="msa"\} 1/);
    assert.match(text, /hermod_msa_refused_content_total\{reason="spam",service="msa"\} 1/);
    assert.match(text, /hermod_malware_scans_total\{result="clean",service="msa"\} [1-9]/);
  });
});
