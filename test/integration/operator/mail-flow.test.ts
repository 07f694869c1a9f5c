// A MailDomain applied with kubectl changes how the running services treat mail: the operator
// (real kube-apiserver, RBAC-limited) writes the live config, and routing, mda, msa, mx and
// outbound-mta (real processes on the same nats-server and PostgreSQL) act on it without a restart;
// patched to remote, mail for the domain goes to a Postfix peer (Debian's) through outbound-mta.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { defaultSieveLimits, SieveScriptError, SieveScripts } from '@hermod/sieve-store';
import {
  type HermodPlatform,
  type PostfixPeer,
  requireTool,
  run,
  startHermod,
  startPostfixPeer,
} from '../../harness/index.js';
import { waitForMessages } from '../mx/mx-fixture.js';
import { expectCode, SmtpWire, submitMessage } from '../mx/smtp-wire.js';
import { type OperatorEnv, startOperatorEnv, waitFor } from './operator-env.js';

const manifest = (spec: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'mail.hermod.dev/v1alpha1',
    kind: 'MailDomain',
    metadata: { name: 'flow', namespace: 'default' },
    spec,
  });

/** The MX's answer to RCPT TO:<address> in a fresh session. */
async function rcptReply(port: number, address: string): Promise<string> {
  const wire = await SmtpWire.open(port);
  try {
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO client.example'), 250);
    expectCode(await wire.command('MAIL FROM:<sender@remote.example>'), 250);
    return await wire.command(`RCPT TO:<${address}>`);
  } finally {
    wire.close();
  }
}

describe('MailDomain to mail flow', () => {
  let hermod: HermodPlatform;
  let env: OperatorEnv;
  let peer: PostfixPeer;

  before(async () => {
    await requireTool('swaks', 'apt-get install swaks');
    peer = await startPostfixPeer({ domains: ['flow.test'], hostname: 'mx.flow-elsewhere.test' });
    hermod = await startHermod({
      services: ['routing', 'mda', 'outbound-mta', 'msa', 'mx'],
      env: { 'outbound-mta': { OUTBOUND_RETRY_SCHEDULE: '1s', OUTBOUND_POLL_INTERVAL: '200ms' } },
    });
    env = await startOperatorEnv({ nats: hermod.nats });
    await env.startOperator();
    // A local domain of our own users (written by the CLI path; the operator leaves it alone).
    await hermod.addDomain('home.test');
    const accounts = new AccountStore(hermod.db.pool);
    await accounts.create({ address: 'alice@flow.test', password: 'alice-password-1' });
    await accounts.create({ address: 'writer@home.test', password: 'writer-password-1' });
  });
  /** A merge patch of the MailDomain's spec. */
  const patchFlow = (spec: Record<string, unknown>) =>
    env.cp.kubectlOk([
      ...['patch', 'maildomain', 'flow', '-n', 'default', '--type=merge'],
      ...['-p', JSON.stringify({ spec })],
    ]);
  after(async () => {
    await env?.stop();
    await hermod?.stop();
    await peer?.stop();
  });

  test('mail to a domain applied with kubectl is delivered locally', async () => {
    assert.match(
      await rcptReply(hermod.ports.mx, 'alice@flow.test'),
      /^5\d\d /,
      'not served before the MailDomain exists',
    );
    const applied = Date.now();
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest({ domain: 'flow.test', dkim: { algorithm: 'ed25519' } }),
    });
    await waitFor(
      'the MX to accept alice@flow.test',
      async () => /^250 /.test(await rcptReply(hermod.ports.mx, 'alice@flow.test')),
      5_000,
      100,
    );
    assert.ok(Date.now() - applied < 5_000);
    await env.cp.kubectlOk([
      'wait',
      '--for=condition=Ready',
      '--timeout=30s',
      'maildomain/flow',
      '-n',
      'default',
    ]);
    const sent = await run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(hermod.ports.mx),
      '--helo',
      'client.remote.example',
      '--from',
      'sender@remote.example',
      '--to',
      'alice@flow.test',
      '--header',
      'Subject: via the operator',
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const [message] = await waitForMessages(hermod.db.pool, 'alice@flow.test', 1);
    assert.match(message?.text ?? '', /Subject: via the operator/);
  });

  test("a MailDomain's global before-script is what mda runs, and the CLI cannot change it", async () => {
    const patch = (sieve: unknown) => patchFlow({ sieve });
    // A script that does not compile is not applied; status says where it is wrong.
    await patch({ before: 'require ["fileinto"];\nif header :contains "subject" "x" { fileinto }\n' });
    await waitFor(
      'ConfigApplied=False for the bad script',
      async () => {
        const md = JSON.parse(
          await env.cp.kubectlOk(['get', 'maildomain', 'flow', '-n', 'default', '-o', 'json']),
        ) as {
          status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
        };
        const c = md.status?.conditions?.find((x) => x.type === 'ConfigApplied');
        return (
          c?.status === 'False' &&
          c.reason === 'InvalidSieveScript' &&
          /before script: line 2/.test(c.message)
        );
      },
      10_000,
      100,
    );
    await patch({
      before:
        'require ["fileinto", "mailbox", "imap4flags"];\n' +
        'if header :contains "subject" "by the spec" { fileinto :create :flags "\\\\Flagged" "Spec/Filed"; }\n',
    });
    await waitFor(
      'mda to store the MailDomain before-script',
      async () =>
        (
          await hermod.db.pool.query(
            "SELECT 1 FROM sieve_global_scripts WHERE domain = 'flow.test' AND phase = 'before' AND source LIKE '%by the spec%'",
          )
        ).rowCount === 1,
      10_000,
      100,
    );
    const sent = await run('swaks', [
      ...['--server', '127.0.0.1', '--port', String(hermod.ports.mx), '--helo', 'client.remote.example'],
      ...[
        '--from',
        'sender@remote.example',
        '--to',
        'alice@flow.test',
        '--header',
        'Subject: filed by the spec',
      ],
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const [filed] = await waitForMessages(hermod.db.pool, 'alice@flow.test', 1, 'Spec/Filed');
    assert.match(filed?.text ?? '', /Subject: filed by the spec/);
    const { rows } = await hermod.db.pool.query<{ flags: string[] }>(
      `SELECT m.flags FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
       WHERE b.name = 'Spec/Filed'`,
    );
    assert.deepEqual(rows[0]?.flags, ['\\Flagged']);
    // Spec wins: the CLI refuses to change the domain's global scripts while the MailDomain sets them.
    const scripts = new SieveScripts(hermod.db.pool, defaultSieveLimits);
    await assert.rejects(scripts.putGlobal('flow.test', 'mine', 'after', 'keep;\n'), (error: unknown) => {
      assert.ok(error instanceof SieveScriptError && error.code === 'managed', String(error));
      assert.match(error.message, /MailDomain default\/flow/);
      return true;
    });
    // Without spec.sieve the CLI manages them again, and the MailDomain's scripts are gone.
    await patch(null);
    await waitFor(
      'the MailDomain scripts to be removed',
      async () => (await scripts.globalOwner('flow.test')) === undefined,
      10_000,
      100,
    );
    assert.deepEqual(await scripts.listGlobal('flow.test'), []);
    await scripts.putGlobal('flow.test', 'mine', 'after', 'keep;\n');
    await scripts.deleteGlobal('flow.test', 'mine');
  });

  test('patched to remote, the MX stops accepting mail for the domain within 5 seconds', async () => {
    const patched = Date.now();
    await patchFlow({ exchanger: 'remote', remote: { hosts: [{ host: '127.0.0.1', port: peer.port }] } });
    await waitFor(
      'the MX to refuse alice@flow.test',
      async () => /^5\d\d /.test(await rcptReply(hermod.ports.mx, 'alice@flow.test')),
      5_000,
      100,
    );
    assert.ok(Date.now() - patched < 5_000);
  });

  test('patched to remote, mail from our own users flows to the Postfix peer via outbound-mta', async () => {
    const reply = await submitMessage(hermod.ports.submission, {
      user: 'writer@home.test',
      password: 'writer-password-1',
      to: 'alice@flow.test',
      subject: 'to the remote exchanger',
    });
    assert.match(reply, /^250 /);
    const [relayed] = await peer.waitForMessages('alice@flow.test', 1);
    const text = relayed?.toString('latin1') ?? '';
    assert.match(text, /Subject: to the remote exchanger/);
    assert.match(text, /\tby mail\.hermod\.test \(Hermod\) with ESMTPSA/);
    // Nothing more in the local mailbox than the message from before the patch.
    assert.equal((await waitForMessages(hermod.db.pool, 'alice@flow.test', 1)).length, 1);
  });

  test('deleting the MailDomain takes the domain out of service', async () => {
    await patchFlow({ exchanger: 'local', remote: null });
    await waitFor(
      'served again',
      async () => /^250 /.test(await rcptReply(hermod.ports.mx, 'alice@flow.test')),
      5_000,
      100,
    );
    await env.cp.kubectlOk(['delete', 'maildomain', 'flow', '-n', 'default', '--timeout=30s'], {
      timeoutMs: 40_000,
    });
    await waitFor(
      'refused after delete',
      async () => /^5\d\d /.test(await rcptReply(hermod.ports.mx, 'alice@flow.test')),
      5_000,
      100,
    );
  });
});
