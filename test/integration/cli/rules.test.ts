// `hermod rules` as a user runs it, against a real nats-server: a domain's rules set from a file
// land in the live configuration, `list` shows them in evaluation order, and `test` explains which
// rule matched and why, with an exit code per outcome (0 none, 3 changed, 4 quarantine, 5 refused).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openDomainBucket, readDomainConfig } from '@hermod/domain-config';
import { repositoryRoot } from '@hermod/local-infra';
import { type HermodPlatform, run, startHermod, testWorkdir } from '@hermod/test/harness';

let hermod: HermodPlatform;
let dir = '';

const hermodCli = (args: string[]) =>
  run(process.execPath, ['services/cli/bin/hermod.js', 'rules', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_DATA_DIR: dir,
      HERMOD_PORT_OFFSET: '',
      NATS_URL: hermod.nats.url,
      POLICY_RULES_FILE: '',
    },
    timeoutMs: 30_000,
  });

const DOMAIN_RULES = `
- name: hold-invoices
  all:
    - subject: { contains: [invoice] }
  none:
    - envelopeFrom: { domain: [billing.example] }
  action: { quarantine: invoices are checked by hand }
- name: legal-copy
  any:
    - headerTo: { exact: [legal@rules.test] }
    - headerCc: { exact: [legal@rules.test] }
  action:
    bcc: [archive@rules.test]
    folder: Legal
`;

before(async () => {
  hermod = await startHermod({ services: [] });
  dir = await testWorkdir('rules-cli');
  await hermod.addDomain('rules.test');
  await writeFile(join(dir, 'rules.yaml'), DOMAIN_RULES);
  await writeFile(
    join(dir, 'bad.yaml'),
    '- name: bad\n  all: [{ subject: { regex: ["(open"] } }]\n  action: { reject: no }\n',
  );
  const message = (subject: string, cc = '') =>
    `From: Sender <sender@remote.example>\r\nTo: alice@rules.test\r\n${cc ? `Cc: ${cc}\r\n` : ''}Subject: ${subject}\r\n\r\nHello.\r\n`;
  await writeFile(join(dir, 'invoice.eml'), message('Your invoice'));
  await writeFile(join(dir, 'legal.eml'), message('Contract', 'legal@rules.test'));
  await writeFile(join(dir, 'plain.eml'), message('Lunch?'));
  await writeFile(
    join(dir, 'exe.eml'),
    'From: a@remote.example\r\nTo: alice@rules.test\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream; name="tool.exe"\r\nContent-Disposition: attachment; filename="tool.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAA=\r\n--b--\r\n',
  );
});

after(async () => {
  await hermod?.stop();
});

test("set stores a domain's rules in the live configuration; list shows the evaluation order", async () => {
  const set = await hermodCli(['set', 'rules.test', join(dir, 'rules.yaml')]);
  assert.equal(set.code, 0, set.stderr);
  const config = await readDomainConfig(await openDomainBucket(hermod.nc.jetstream()), 'rules.test');
  assert.deepEqual(
    config?.policyRules.map((r) => r.name),
    ['hold-invoices', 'legal-copy'],
  );
  const list = await hermodCli(['list', '--domain', 'rules.test']);
  assert.equal(list.code, 0, list.stderr);
  const names = list.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(names, [
    'hold-invoices',
    'legal-copy',
    'default-executables',
    'default-office-macros',
    'default-double-extension',
    'default-encrypted-archives',
  ]);
});

test('test explains the matching rule and why, with an exit code per outcome', async () => {
  const held = await hermodCli(['test', join(dir, 'invoice.eml')]);
  assert.equal(held.code, 4, held.stdout + held.stderr);
  assert.match(
    held.stdout,
    /^\* hold-invoices \[domain:rules\.test\]: MATCHED\n {4}all: holds: subject \(contains "invoice"\)\n {4}none: fails: MAIL FROM sender@remote\.example: no match$/m,
  );
  assert.match(held.stdout, /^quarantined: invoices are checked by hand \(policy rule hold-invoices\)$/m);

  const fromBilling = await hermodCli(['test', join(dir, 'invoice.eml'), '--from', 'ar@billing.example']);
  assert.equal(fromBilling.code, 0, fromBilling.stdout);
  assert.match(
    fromBilling.stdout,
    /^ {2}hold-invoices \[domain:rules\.test\]: no match\n {4}all: holds: .*\n {4}none: holds: MAIL FROM ar@billing\.example \(domain billing\.example\)/m,
  );

  const legal = await hermodCli(['test', join(dir, 'legal.eml')]);
  assert.equal(legal.code, 3, legal.stdout);
  assert.match(legal.stdout, /^delivered with: folder Legal; copy to archive@rules\.test$/m);

  const exe = await hermodCli(['test', join(dir, 'exe.eml'), '--json']);
  assert.equal(exe.code, 5, exe.stdout);
  const parsed = JSON.parse(exe.stdout) as { terminal: { kind: string; rule: string } };
  assert.deepEqual(parsed.terminal, {
    kind: 'reject',
    rule: 'default-executables',
    text: 'Executable and script attachments are not accepted here',
  });

  const plain = await hermodCli(['test', join(dir, 'plain.eml'), '--no-defaults']);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^delivered unchanged$/m);
});

test('a bad rules file is refused naming the field (exit 1); a usage mistake exits 2', async () => {
  const bad = await hermodCli(['set', 'rules.test', join(dir, 'bad.yaml')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /0\.all\.0\.subject\.regex\.0: not a valid POSIX extended regular expression/);
  const config = await readDomainConfig(await openDomainBucket(hermod.nc.jetstream()), 'rules.test');
  assert.equal(config?.policyRules.length, 2, 'the previous rules stay');
  assert.equal((await hermodCli(['test'])).code, 2);
  assert.equal((await hermodCli(['frobnicate'])).code, 2);
});
