// The `hermod` command run as a user runs it (bin/hermod.js, as `npx hermod` does) against a real
// nats-server, PostgreSQL and routing service: listings show everything, configuration is changed
// only where asked, usage mistakes exit 2, and an unreachable NATS fails fast with what to do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listDkimKeyRefs, openDkimKeyBucket, writeDkimKey } from '@hermod/domain-config';
import { freePort, repositoryRoot } from '@hermod/local-infra';
import { type HermodPlatform, run, startHermod, testWorkdir } from '@hermod/test/harness';

let hermod: HermodPlatform;
let emptyDataDir = '';

const hermodCli = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
  run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_DATA_DIR: emptyDataDir,
      HERMOD_PORT_OFFSET: '',
      NATS_URL: hermod.nats.url,
      DATABASE_URL: hermod.db.url,
      ROUTING_GRPC_ADDRESS: `127.0.0.1:${hermod.ports.routingGrpc}`,
      ...options.env,
    },
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeoutMs: 30_000,
  });

async function ok(args: string[], input?: string) {
  const result = await hermodCli(args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result;
}

before(async () => {
  hermod = await startHermod({ services: ['routing'] });
  emptyDataDir = await testWorkdir('cli-data');
});

after(async () => {
  await hermod?.stop();
});

test('domain list shows every domain, as text and as JSON', async () => {
  for (const d of ['list-b.test', 'list-a.test', 'list-c.test']) await ok(['domain', 'add', d]);
  const text = (await ok(['domain', 'list'])).stdout;
  for (const d of ['list-a.test', 'list-b.test', 'list-c.test'])
    assert.match(text, new RegExp(`^${d.replace('.', '\\.')}\\s+local\\s`, 'm'));
  const json = JSON.parse((await ok(['domain', 'list', '--json'])).stdout) as Array<{ domain: string }>;
  assert.deepEqual(
    json.map((d) => d.domain).filter((d) => d.startsWith('list-')),
    ['list-a.test', 'list-b.test', 'list-c.test'],
  );
});

test('every DKIM selector of a domain is listed', async () => {
  const kv = await openDkimKeyBucket(hermod.nc.jetstream());
  for (const selector of ['s1', 's2', 's3'])
    await writeDkimKey(kv, {
      domain: 'dkim.test',
      selector,
      algorithm: 'ed25519-sha256',
      privateKeyPem: 'pem',
      publicKey: 'pub',
      createdAt: new Date().toISOString(),
    });
  assert.deepEqual(await listDkimKeyRefs(kv, 'dkim.test'), ['dkim.test.s1', 'dkim.test.s2', 'dkim.test.s3']);
});

test('domain add refuses an existing domain unless --replace; domain set changes only what it names', async () => {
  await ok(['domain', 'add', 'keep.test']);
  await ok(['alias', 'add', 'sales@keep.test', 'ann@keep.test']);
  await ok(['alias', 'separator', 'keep.test', '-']);

  const again = await hermodCli(['domain', 'add', 'keep.test', '--mode', 'remote']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /keep\.test already exists.*hermod domain set.*--replace/s);

  const set = await ok([
    'domain',
    'set',
    'keep.test',
    '--mode',
    'backup',
    '--remote-host',
    'mx.keep.test:2525',
  ]);
  assert.match(set.stdout, /keep\.test/);
  const [after] = (
    JSON.parse((await ok(['domain', 'list', '--json'])).stdout) as Array<Record<string, unknown>>
  ).filter((d) => d.domain === 'keep.test');
  assert.equal(after!.exchanger, 'backup');
  assert.deepEqual(
    (after!.remoteHosts as Array<{ host: string; port: number }>).map((h) => `${h.host}:${h.port}`),
    ['mx.keep.test:2525'],
  );
  assert.deepEqual(after!.aliases, [{ source: 'sales', destinations: ['ann@keep.test'] }]);
  assert.equal(after!.subaddressSeparator, '-');

  const limit = await ok(['domain', 'set', 'keep.test', '--max-message-bytes', '1000000']);
  assert.match(limit.stdout, /keep\.test/);
  const [limited] = (
    JSON.parse((await ok(['domain', 'list', '--json'])).stdout) as Array<Record<string, unknown>>
  ).filter((d) => d.domain === 'keep.test');
  assert.equal(limited!.exchanger, 'backup', 'set leaves the mode alone when not named');
  assert.deepEqual(limited!.limits, { maxMessageBytes: 1_000_000 });
  assert.deepEqual(limited!.aliases, [{ source: 'sales', destinations: ['ann@keep.test'] }]);

  // The quarantine digest on and off (MailDomain quarantine.digest); other quarantine settings stay.
  await ok(['domain', 'set', 'keep.test', '--quarantine-digest']);
  const domainOf = async () =>
    (JSON.parse((await ok(['domain', 'list', '--json'])).stdout) as Array<Record<string, unknown>>).find(
      (d) => d.domain === 'keep.test',
    );
  assert.deepEqual((await domainOf())?.quarantine, { digest: true });
  assert.equal((await domainOf())?.exchanger, 'backup');
  await ok(['domain', 'set', 'keep.test', '--no-quarantine-digest']);
  assert.deepEqual((await domainOf())?.quarantine, { digest: false });
  const both = await hermodCli([
    'domain',
    'set',
    'keep.test',
    '--quarantine-digest',
    '--no-quarantine-digest',
  ]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /contradict/);

  const unknown = await hermodCli(['domain', 'set', 'nowhere.test', '--mode', 'local']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no domain nowhere\.test/);
  const nothing = await hermodCli(['domain', 'set', 'keep.test']);
  assert.equal(nothing.code, 2);

  await ok(['domain', 'add', 'keep.test', '--replace']);
  const [replaced] = (
    JSON.parse((await ok(['domain', 'list', '--json'])).stdout) as Array<Record<string, unknown>>
  ).filter((d) => d.domain === 'keep.test');
  assert.equal(replaced!.exchanger, 'local');
  assert.deepEqual(replaced!.aliases, []);
});

test('usage mistakes exit 2; user add checks the address before reading a password', async () => {
  const badAddress = await hermodCli(['user', 'add', 'not an address'], { input: 'a-long-password\n' });
  assert.equal(badAddress.code, 2, badAddress.stderr);
  assert.match(badAddress.stderr, /'not an address' is not a valid address/);
  // No input at all: had the password been read first, the complaint would be about the password.
  const badAddressNoInput = await hermodCli(['user', 'add', 'nobody-at-all']);
  assert.equal(badAddressNoInput.code, 2);
  assert.match(badAddressNoInput.stderr, /not a valid address/);
  assert.doesNotMatch(badAddressNoInput.stderr, /password/i);

  await ok(['domain', 'add', 'users.test']);
  const short = await hermodCli(['user', 'add', 'ann@users.test'], { input: 'short\n' });
  assert.equal(short.code, 2, short.stderr);
  assert.match(short.stderr, /at least 8 characters/);
  await ok(['user', 'add', 'ann@users.test'], 'a-long-password\n');
  const shortPasswd = await hermodCli(['user', 'passwd', 'ann@users.test'], { input: 'short\n' });
  assert.equal(shortPasswd.code, 2, shortPasswd.stderr);

  const badRoute = await hermodCli(['route', 'explain', 'not an address']);
  assert.equal(badRoute.code, 2, badRoute.stdout + badRoute.stderr);
  assert.match(badRoute.stderr, /not a valid address/);
});

test('route explain: a served domain is not called unserved; an unserved one says which view it shows', async () => {
  await ok(['domain', 'add', 'served.test']);
  const served = await ok(['route', 'explain', '@served.test']);
  assert.doesNotMatch(served.stdout, /not served/);
  assert.match(served.stdout, /mode:\s+local/);

  const unserved = await ok(['route', 'explain', 'someone@elsewhere.example']);
  assert.match(unserved.stdout, /mode:\s+not served/);
  assert.match(unserved.stdout, /authenticated submission/);
});

test('route explain against a routing address that does not answer says so without a dangling note', async () => {
  const port = await freePort();
  const result = await hermodCli(['route', 'explain', 'a@served.test'], {
    env: { ROUTING_GRPC_ADDRESS: `127.0.0.1:${port}` },
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`routing at 127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(result.stderr, /Resolution note:\s*$/m);
});

test('a command that cannot reach NATS fails within seconds, naming the address and what to do', async () => {
  const port = await freePort();
  const started = Date.now();
  const result = await hermodCli(['domain', 'list'], { env: { NATS_URL: `nats://127.0.0.1:${port}` } });
  const elapsed = Date.now() - started;
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`nats://127\\.0\\.0\\.1:${port}`));
  assert.match(result.stderr, /npm start|NATS_URL/);
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
});

test('a NATS command takes its work, not a timer: well under the old 5 s', async () => {
  await ok(['domain', 'list']); // the bundle is built at most once, on first use
  const started = Date.now();
  await ok(['domain', 'list']);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3_000, `domain list took ${elapsed} ms`);
});
