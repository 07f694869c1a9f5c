// Outbound policy rules at the msa (real routing, mda, nats-server, PostgreSQL, swaks over
// implicit TLS): a domain's outbound rule refuses by subject, an inbound-only rule does not run
// on submission, a default rule refuses an executable, and a matching non-terminal rule tags the
// delivered message.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type HermodPlatform, requireTool, run, startHermod, testWorkdir } from '@hermod/test/harness';
import { waitForMessages } from '../mx/mx-fixture.js';

let hermod: HermodPlatform;
let workdir = '';

const swaks = (args: string[]) =>
  run(
    'swaks',
    [
      ...[
        '--server',
        '127.0.0.1',
        '--port',
        String(hermod.ports.submissions),
        '--tlsc',
        '--helo',
        'client.test',
      ],
      ...['--auth', 'PLAIN', '--auth-user', 'alice@example.test', '--auth-password', 'alice-password-1'],
      ...['--from', 'alice@example.test', '--to', 'bob@example.test', '--timeout', '20'],
      ...args,
    ],
    { timeoutMs: 30_000 },
  );

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  workdir = await testWorkdir('msa-policy');
  await writeFile(
    join(workdir, 'rules.yaml'),
    '- name: tag-outbound\n  direction: outbound\n  all: [{ subject: { contains: [report] } }]\n  action: { addHeader: [{ name: X-Outbound-Tag, value: checked }] }\n',
  );
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    env: { msa: { POLICY_RULES_FILE: join(workdir, 'rules.yaml') } },
  });
  await hermod.addDomain('example.test', {
    policyRules: [
      {
        name: 'no-secrets-out',
        direction: 'outbound',
        all: [{ subject: { regex: ['^(confidential|secret):'] } }],
        action: { reject: 'Confidential mail may not be sent' },
      },
      {
        name: 'inbound-only',
        all: [{ subject: { contains: ['report'] } }],
        action: { reject: 'never at submission' },
      },
    ],
  });
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@example.test', password: 'alice-password-1' });
  await accounts.create({ address: 'bob@example.test', password: 'bob-password-12' });
});

after(async () => {
  await hermod?.stop();
});

describe('outbound policy rules at the msa', () => {
  test("the sender domain's outbound rule refuses with 550 5.7.1", async () => {
    const result = await swaks(['--header', 'Subject: Confidential: plans']);
    assert.match(
      result.stdout,
      /<~\* 550 5\.7\.1 Confidential mail may not be sent \(policy rule no-secrets-out\)/,
    );
  });

  test('a default rule refuses an executable attachment', async () => {
    const exe = join(workdir, 'setup.exe');
    await writeFile(exe, Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(100)]));
    const result = await swaks(['--header', 'Subject: tool', '--attach', `@${exe}`]);
    assert.match(result.stdout, /<~\* 550 5\.7\.1 Executable and script attachments are not accepted here/);
  });

  test('both refusals are counted by reason and code', async () => {
    const msa = hermod.services.get('msa');
    assert.ok(msa);
    const text = await (await fetch(`http://127.0.0.1:${msa.options.opsPort}/metrics`)).text();
    assert.match(text, /^hermod_msa_rejections_total\{reason="policy",code="550"[^}]*\} 2$/m);
  });

  test('an outbound rule tags the message; the inbound-only rule does not run', async () => {
    const result = await swaks(['--header', 'Subject: weekly report']);
    assert.equal(result.code, 0, result.stdout);
    const [message] = await waitForMessages(hermod.db.pool, 'bob@example.test', 1);
    assert.match(message?.text ?? '', /^X-Outbound-Tag: checked\r$/m);
    assert.match(message?.text ?? '', /^X-Hermod-Policy: tag-outbound\r$/m);
  });
});
