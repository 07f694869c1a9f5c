// Two local platforms side by side, as the README's second-copy recipe starts them (different
// HERMOD_PORT_OFFSET and HERMOD_DATA_DIR), each driven by the CLI with only those two variables;
// one of them run through `npm start` and stopped by SIGINT to the npm process alone. Then starts
// that cannot succeed: a port already taken (refused before anything starts, naming the port and
// its holder) and a service that cannot start (what was started is stopped again).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isPortFree } from '@hermod/local-infra';
import {
  eventually,
  freePortOffset,
  type LocalPlatform,
  processesUsing,
  startLocalPlatform,
  testWorkdir,
} from '@hermod/test/harness';

let first: LocalPlatform;
let second: LocalPlatform;

before(async () => {
  first = await startLocalPlatform({ offset: await freePortOffset(), dataDir: await testWorkdir('first') });
  second = await startLocalPlatform({
    offset: await freePortOffset(),
    dataDir: await testWorkdir('second'),
    viaNpm: true,
  });
});

after(async () => {
  await first?.stop();
  await second?.stop();
});

test('the CLI reaches each of two platforms from their HERMOD_PORT_OFFSET and HERMOD_DATA_DIR', async () => {
  assert.match(first.output(), new RegExp(`nats-server nats://127\\.0\\.0\\.1:${4222 + first.offset}`));
  assert.match(second.output(), new RegExp(`nats-server nats://127\\.0\\.0\\.1:${4222 + second.offset}`));
  const env = readFileSync(join(first.dataDir, 'local.env'), 'utf8');
  assert.match(env, new RegExp(`^ROUTING_GRPC_ADDRESS=127\\.0\\.0\\.1:${7001 + first.offset}$`, 'm'));

  for (const [platform, domain] of [
    [first, 'first.test'],
    [second, 'second.test'],
  ] as const) {
    const added = await platform.cli(['domain', 'add', domain]);
    assert.equal(added.code, 0, added.stderr);
    const user = await platform.cli(['user', 'add', `ann@${domain}`], 'a-long-password\n');
    assert.equal(user.code, 0, user.stderr);
  }
  const firstList = await first.cli(['domain', 'list']);
  assert.match(firstList.stdout, /^first\.test\s+local/m);
  assert.doesNotMatch(firstList.stdout, /second\.test/);
  const secondUsers = await second.cli(['user', 'list']);
  assert.match(secondUsers.stdout, /^ann@second\.test/m);
  assert.doesNotMatch(secondUsers.stdout, /first\.test/);

  // route explain goes to each platform's own routing service.
  const servedHere = await first.cli(['route', 'explain', 'ann@first.test']);
  assert.equal(servedHere.code, 0, servedHere.stderr);
  assert.match(servedHere.stdout, /mode:\s+local/);
  const servedThere = await second.cli(['route', 'explain', 'ann@first.test']);
  assert.match(servedThere.stdout, /mode:\s+not served/);
});

test('a service that crashes is started again', async () => {
  const mda = processesUsing(first.dataDir).find((p) => p.includes('services/mda/src/main.ts'));
  assert.ok(mda, 'mda of the first platform is running');
  process.kill(Number(mda.split(':')[0]), 'SIGKILL');
  await eventually(
    'mda restarted',
    async () => (/mda restarted/.test(first.output()) ? true : undefined),
    60_000,
  );
  const again = processesUsing(first.dataDir).find((p) => p.includes('services/mda/src/main.ts'));
  assert.ok(again && again !== mda, 'a new mda process');
});

test('SIGINT to the npm start process alone stops its platform', async () => {
  assert.equal(await second.stop(), 0);
  assert.match(second.output(), /\[platform\] stopped/);
  assert.ok(await isPortFree(4222 + second.offset), 'its NATS port is free again');
  assert.deepEqual(processesUsing(second.dataDir), []);
  const gone = await second.cli(['domain', 'list']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no local platform is running/);
});

test('a port already in use is reported before anything starts', async () => {
  const offset = await freePortOffset();
  const dataDir = await testWorkdir('taken');
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(8322 + offset, '127.0.0.1', resolve));
  try {
    const refused = await startLocalPlatform({ offset, dataDir, expectFailure: true });
    assert.equal(await refused.exited, 1);
    assert.match(
      refused.output(),
      new RegExp(`port ${8322 + offset} \\(NATS monitoring\\) is already in use by node, pid ${process.pid}`),
    );
    assert.match(refused.output(), /nothing was started/);
    assert.doesNotMatch(refused.output(), /nats-server nats:/);
    assert.deepEqual(processesUsing(dataDir), []);
  } finally {
    holder.close();
  }
});

test('a start that fails stops what it had started', async () => {
  const offset = await freePortOffset();
  const dataDir = await testWorkdir('broken');
  // Every service refuses this setting at start-up, after NATS and PostgreSQL are up.
  const broken = await startLocalPlatform({
    offset,
    dataDir,
    env: { LOG_LEVEL: 'chatty' },
    expectFailure: true,
  });
  assert.equal(await broken.exited, 1);
  assert.match(broken.output(), /nats-server nats:/);
  assert.match(broken.output(), /PostgreSQL \(embedded\)/);
  assert.match(broken.output(), /\[platform\] stopped/);
  assert.deepEqual(processesUsing(dataDir), []);
  assert.ok(await isPortFree(4222 + offset), 'NATS port free');
  assert.ok(await isPortFree(54329 + offset), 'PostgreSQL port free');
});
