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
  eventually,
  type HermodPlatform,
  requireTool,
  run,
  startHermod,
  testWorkdir,
} from '@hermod/test/harness';
import { waitForMessages } from '../mx/mx-fixture.js';
import { RspamdPeer } from '../mx/rspamd-peer.js';
import {
  doubleZippedEicar,
  doublyNestedEicar,
  misnamedEicar,
  quotedPrintableEicar,
  uuencodedEicar,
} from './malware-samples.js';

let hermod: HermodPlatform;
let clamd: ClamdPeer;
let rspamd: RspamdPeer;
let dns: DnsTestServer;

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function submit(subject: string, extra: string[], user = 'alice') {
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
      `${user}@example.test`,
      '--auth-password',
      `${user}-password-1`,
      '--from',
      `${user}@example.test`,
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
    env: {
      msa: {
        CLAMD_ADDRESS: clamd.address,
        RSPAMD_URL: rspamd.url,
        RSPAMD_TIMEOUT_MS: '20000',
        MSA_SUSPEND_AFTER_LIMIT_HITS: '2',
      },
    },
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@example.test', password: 'alice-password-1' });
  await accounts.create({ address: 'bob@example.test', password: 'bob-password-12' });
  await accounts.create({ address: 'mallory@example.test', password: 'mallory-password-1' });
  // alice's two refusals below must not suspend her: she is exempt from containment.
  await accounts.setLimitOverrides('alice@example.test', { autoSuspend: false });
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
    // And as refusals, with their reply codes, where every refusal of the msa is counted.
    assert.match(text, /^hermod_msa_rejections_total\{reason="malware",code="554"[^}]*\} 1$/m);
    assert.match(text, /^hermod_msa_rejections_total\{reason="spam",code="554"[^}]*\} 1$/m);
    assert.match(text, /hermod_malware_scans_total\{result="clean",service="msa"\} [1-9]/);
  });
});

describe('outbound malware in the forms mail carries it', () => {
  test('quoted-printable, uuencoded, zip in zip, doubly nested message/rfc822, misnamed: each refused naming the signature', async () => {
    const dir = await testWorkdir('msa-eicar-forms');
    const forms = {
      quotedPrintable: quotedPrintableEicar(),
      uuencoded: uuencodedEicar(),
      zipInZip: await doubleZippedEicar(),
      doublyNested: doublyNestedEicar(),
      misnamed: misnamedEicar(),
    };
    for (const [name, message] of Object.entries(forms)) {
      const file = join(dir, `${name}.eml`);
      await writeFile(
        file,
        message
          .replaceAll('alice@example.test', 'bob@example.test')
          .replace('sender@remote.example', 'alice@example.test'),
      );
      const result = await submit(name, ['--data', `@${file}`]);
      assert.match(
        result.stdout,
        /<~\* 554 5\.7\.1 Message refused: malware found \(Hermod\.Test\.EICAR/,
        `${name}: ${result.stdout.slice(-400)}`,
      );
    }
  });
});

describe('containment of an account that sends malware or spam', () => {
  test('refused content counts towards the sending suspension: the second refusal suspends', async () => {
    const dir = await testWorkdir('msa-eicar-mallory');
    await writeFile(join(dir, 'eicar.com'), EICAR);
    const accounts = new AccountStore(hermod.db.pool);
    const first = await submit('infected 1', ['--attach', `@${join(dir, 'eicar.com')}`], 'mallory');
    assert.match(first.stdout, /<~\* 554 5\.7\.1 Message refused: malware found/);
    assert.equal(await accounts.sendingSuspension('mallory@example.test'), undefined);
    const second = await submit('spam 2', ['--body', `${GTUBE}\r\n`], 'mallory');
    assert.match(second.stdout, /<~\* 554 5\.7\.1 Message refused as spam/);
    // The report runs after the reply: wait for the suspension, then see it refuse clean mail.
    const suspension = await eventually('mallory suspended', () =>
      accounts.sendingSuspension('mallory@example.test'),
    );
    assert.match(suspension.reason, /refused as spam/);
    const third = await submit('clean after', ['--body', 'ordinary\r\n'], 'mallory');
    assert.match(third.stdout, /<~\* 550 5\.7\.1 Sending from this account is suspended/);
    assert.match(await metrics(), /hermod_msa_sending_suspensions_total\{cause="spam",service="msa"\} 1/);
    assert.equal(await accounts.sendingSuspension('alice@example.test'), undefined);
  });
});
