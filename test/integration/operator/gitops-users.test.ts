// `kubectl apply -k examples/gitops` on a real kube-apiserver (the operator under its own RBAC,
// with the accounts store) brings up a domain, its users and groups; then mail flows end to end
// through real routing, mx, msa and mda: to a user, to a group (every member gets it), a group's
// sender policy refuses others at RCPT with 550 5.7.2, send-as works. Also: a MailUser whose
// domain has no Ready MailDomain says so and recovers when one appears; a missing or changed
// password Secret; deletion policies.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { repositoryRoot } from '@hermod/local-infra';
import { type HermodPlatform, startHermod } from '../../harness/index.js';
import { waitForMessages } from '../mx/mx-fixture.js';
import { expectCode, SmtpWire, submitMessage } from '../mx/smtp-wire.js';
import { type OperatorEnv, startOperatorEnv, waitFor } from './operator-env.js';

interface Resource {
  metadata: { name: string; finalizers?: string[] };
  status?: {
    observedGeneration?: number;
    accountId?: number;
    quota?: { used: string; usedBytes: number };
    memberCount?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  };
}
const ready = (r: Resource) => r.status?.conditions?.find((c) => c.type === 'Ready');

let hermod: HermodPlatform;
let env: OperatorEnv;
let accounts: AccountStore;
const ns = 'example-mail';

/** One SMTP transaction to the MX; the RCPT reply (and the DATA reply when accepted). */
async function sendToMx(from: string, to: string, subject: string): Promise<string> {
  const wire = await SmtpWire.open(hermod.ports.mx);
  try {
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO client.far.test'), 250);
    expectCode(await wire.command(`MAIL FROM:<${from}>`), 250);
    const rcpt = await wire.command(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith('250')) return rcpt;
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nHello.\r\n.\r\n`);
    return await wire.reply();
  } finally {
    wire.close();
  }
}

const get = (kind: string, name: string, namespace = ns) =>
  env.cp.getJson<Resource>([kind, name, '-n', namespace]);

before(async () => {
  hermod = await startHermod({ services: ['routing', 'mda', 'msa', 'mx'] });
  env = await startOperatorEnv({ nats: hermod.nats });
  await env.startOperator({ env: { DATABASE_URL: hermod.db.url } });
  accounts = new AccountStore(hermod.db.pool);
});

after(async () => {
  await env?.stop();
  await hermod?.stop();
});

test('kubectl apply -k of the GitOps example brings up the domain, users and groups, and mail flows', async () => {
  await env.cp.kubectlOk(['apply', '-k', join(repositoryRoot, 'examples', 'gitops')]);
  await env.cp.kubectlOk(
    [
      'wait',
      '--for=condition=Ready',
      '--timeout=60s',
      '-n',
      ns,
      'maildomain/example-com',
      'mailuser/ann',
      'mailuser/bob',
      'mailgroup/team',
      'mailgroup/staff',
    ],
    { timeoutMs: 70_000 },
  );
  const ann = await get('mailuser', 'ann');
  assert.equal(ann.status?.observedGeneration, 1);
  assert.equal(ann.status?.quota?.used, '0/2Gi (0%)');
  assert.deepEqual(ann.metadata.finalizers, ['mail.hermod.dev/accounts']);
  assert.equal((await get('mailgroup', 'team')).status?.memberCount, 2);
  const events = await env.cp.kubectlOk([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    'involvedObject.name=ann',
    '-o',
    'jsonpath={.items[*].reason}',
  ]);
  assert.match(events, /AccountCreated/);

  // To a user (and an alias of hers), over the MX from outside.
  assert.match(await sendToMx('sender@far.test', 'ann@example.com', 'to ann'), /^250 /);
  assert.match(await sendToMx('sender@far.test', 'anna@example.com', 'to anna'), /^250 /);
  // To a group anyone may write to: every member gets a copy.
  assert.match(await sendToMx('sender@far.test', 'team@example.com', 'to the team'), /^250 /);
  // A members-only group refuses an outsider at RCPT, naming the rule.
  const refused = await sendToMx('sender@far.test', 'staff@example.com', 'to staff');
  assert.match(
    refused,
    /^550 5\.7\.2 .*may not send to the group staff@example\.com \(only its members may\)/,
  );
  // ...and takes mail from a member (ann, logged in with the plaintext the operator hashed),
  // who also sends as the role address she was given.
  assert.match(
    await submitMessage(hermod.ports.submission, {
      user: 'ann@example.com',
      password: 'ann-example-password',
      from: 'ann@example.com',
      to: 'staff@example.com',
      subject: 'to staff from ann',
    }),
    /^250 /,
  );
  assert.match(
    await submitMessage(hermod.ports.submission, {
      user: 'ann@example.com',
      password: 'ann-example-password',
      from: 'office@example.com',
      to: 'bob@example.com',
      subject: 'from the office',
    }),
    /^250 /,
  );

  const annMail = await waitForMessages(hermod.db.pool, 'ann@example.com', 4);
  const bobMail = await waitForMessages(hermod.db.pool, 'bob@example.com', 3);
  const subjects = (messages: Array<{ text: string }>) =>
    messages.map((m) => /Subject: (.*)\r\n/.exec(m.text)?.[1]).sort();
  assert.deepEqual(subjects(annMail), ['to ann', 'to anna', 'to staff from ann', 'to the team']);
  assert.deepEqual(subjects(bobMail), ['from the office', 'to staff from ann', 'to the team']);
  // bob's Secret holds a hash: it is his password as it is.
  assert.ok(await accounts.authenticate('bob@example.com', 'bob-example-password', 'imap'));
});

test('a MailUser whose domain has no Ready MailDomain says so, and becomes Ready when one appears', async () => {
  const user = {
    apiVersion: 'mail.hermod.dev/v1alpha1',
    kind: 'MailUser',
    metadata: { name: 'carol', namespace: 'default' },
    spec: { address: 'carol@later.test', password: { secretRef: { name: 'carol-password' } } },
  };
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'carol-password', namespace: 'default' },
    stringData: { password: 'carol-long-password' },
  };
  await env.cp.kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [secret, user] }),
  });
  const waiting = await waitFor('carol to report the missing domain', async () => {
    const r = await get('mailuser', 'carol', 'default');
    return ready(r)?.reason === 'DomainNotFound' ? r : undefined;
  });
  assert.equal(ready(waiting)?.status, 'False');
  assert.match(ready(waiting)?.message ?? '', /no MailDomain serves later\.test/);
  assert.equal(
    await accounts.findByAddress('carol@later.test'),
    undefined,
    'not written before the domain is Ready',
  );

  await env.cp.kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'mail.hermod.dev/v1alpha1',
      kind: 'MailDomain',
      metadata: { name: 'later', namespace: 'default' },
      spec: { domain: 'later.test', dkim: { algorithm: 'ed25519' } },
    }),
  });
  await env.cp.kubectlOk(
    ['wait', '--for=condition=Ready', '--timeout=30s', '-n', 'default', 'mailuser/carol'],
    {
      timeoutMs: 40_000,
    },
  );
  assert.ok(await accounts.authenticate('carol@later.test', 'carol-long-password', 'imap'));
});

test('a MailUser whose password Secret is missing says so; created, then changed, the account follows it', async () => {
  await env.cp.kubectlOk(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'mail.hermod.dev/v1alpha1',
      kind: 'MailUser',
      metadata: { name: 'erin', namespace: 'default' },
      spec: { address: 'erin@later.test', password: { secretRef: { name: 'erin-password' } } },
    }),
  });
  const waiting = await waitFor('erin to report the missing Secret', async () => {
    const r = await get('mailuser', 'erin', 'default');
    return ready(r)?.reason === 'PasswordSecretMissing' ? r : undefined;
  });
  assert.equal(ready(waiting)?.status, 'False');
  assert.match(ready(waiting)?.message ?? '', /Secret erin-password not found in default/);
  assert.equal(await accounts.findByAddress('erin@later.test'), undefined);
  const secret = (password: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'erin-password', namespace: 'default' },
      stringData: { password },
    });
  await env.cp.kubectlOk(['apply', '-f', '-'], { input: secret('erin-first-password') });
  await env.cp.kubectlOk(
    ['wait', '--for=condition=Ready', '--timeout=30s', '-n', 'default', 'mailuser/erin'],
    {
      timeoutMs: 40_000,
    },
  );
  assert.ok(await accounts.authenticate('erin@later.test', 'erin-first-password', 'imap'));
  // The Secret changes: the password follows without a change to the MailUser.
  await env.cp.kubectlOk(['apply', '-f', '-'], { input: secret('erin-second-password') });
  await waitFor('the new password', () =>
    accounts.authenticate('erin@later.test', 'erin-second-password', 'imap'),
  );
  assert.ok(!(await accounts.authenticate('erin@later.test', 'erin-first-password', 'imap')));
  // A key the Secret does not have is named, and the account keeps the password it had.
  await env.cp.kubectlOk([
    'patch',
    'mailuser',
    'erin',
    '-n',
    'default',
    '--type=merge',
    '-p',
    '{"spec":{"password":{"secretRef":{"name":"erin-password","key":"pw"}}}}',
  ]);
  const noKey = await waitFor('erin to report the missing key', async () => {
    const r = await get('mailuser', 'erin', 'default');
    return ready(r)?.reason === 'PasswordSecretMissing' ? r : undefined;
  });
  assert.match(ready(noKey)?.message ?? '', /Secret erin-password has no key pw/);
  assert.ok(await accounts.authenticate('erin@later.test', 'erin-second-password', 'imap'));
});

test('an account the CLI made is a Conflict for a MailUser until the MailUser is annotated to adopt it', async () => {
  await accounts.create({ address: 'dave@example.com', password: 'dave-cli-password' });
  const user = (annotations: Record<string, string> = {}) =>
    JSON.stringify({
      apiVersion: 'mail.hermod.dev/v1alpha1',
      kind: 'MailUser',
      metadata: { name: 'dave', namespace: ns, annotations },
      spec: { address: 'dave@example.com', password: { secretRef: { name: 'ann-password' } } },
    });
  await env.cp.kubectlOk(['apply', '-f', '-'], { input: user() });
  const refused = await waitFor('dave to report the conflict', async () => {
    const r = await get('mailuser', 'dave');
    return ready(r)?.reason === 'Conflict' ? r : undefined;
  });
  assert.match(
    ready(refused)?.message ?? '',
    /annotate MailUser example-mail\/dave with mail\.hermod\.dev\/adopt=true/,
  );
  assert.ok(await accounts.authenticate('dave@example.com', 'dave-cli-password', 'imap'), 'left alone');
  await env.cp.kubectlOk(['apply', '-f', '-'], { input: user({ 'mail.hermod.dev/adopt': 'true' }) });
  await env.cp.kubectlOk(['wait', '--for=condition=Ready', '--timeout=30s', '-n', ns, 'mailuser/dave'], {
    timeoutMs: 40_000,
  });
  assert.equal((await accounts.findByAddress('dave@example.com'))?.managedBy, 'MailUser example-mail/dave');
  assert.ok(
    await accounts.authenticate('dave@example.com', 'ann-example-password', 'imap'),
    'the Secret rules now',
  );
});

test('deleting MailUsers follows their deletion policy; deleting a group stops its expansion', async () => {
  await env.cp.kubectlOk(
    ['delete', '-n', ns, 'mailuser/bob', 'mailuser/ann', 'mailgroup/team', '--timeout=30s'],
    {
      timeoutMs: 40_000,
    },
  );
  assert.equal(await accounts.findByAddress('bob@example.com'), undefined, 'Delete: account and mail gone');
  const ann = await accounts.findByAddress('ann@example.com');
  assert.deepEqual(
    [ann?.disabled, ann?.managedBy],
    [true, null],
    'Retain: kept, disabled, no longer managed',
  );
  assert.equal((await waitForMessages(hermod.db.pool, 'ann@example.com', 4)).length, 4, 'with her mail');
  assert.match(await sendToMx('sender@far.test', 'team@example.com', 'after'), /^550 5\.1\.1 /);
});
