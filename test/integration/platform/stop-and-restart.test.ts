// How a newcomer stops and restarts `npm start` beyond Ctrl-C: a second start on the same data
// folder (another offset, so every port is free) is refused while the first runs; `kill -9` of the
// platform process, after which the next start must not be blocked by what the killed one had
// started; and SIGTERM, which stops everything and leaves no process, port or file of the run, even
// when the platform's output pipe is gone.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

let dataDir = '';
let offset = 0;
let platform: LocalPlatform;

const pidOf = (line: string) => Number(line.split(':')[0]);
/** A zombie (exited, not yet reaped by its new parent) counts as gone. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};

before(async () => {
  dataDir = await testWorkdir('restart');
  offset = await freePortOffset();
  platform = await startLocalPlatform({ offset, dataDir });
});

after(async () => {
  await platform?.stop();
});

test('a second start on the data folder of a running platform is refused, naming it; the first runs on', async () => {
  const second = await startLocalPlatform({
    offset: await freePortOffset(),
    dataDir,
    expectFailure: true,
  });
  assert.equal(await second.exited, 1);
  assert.match(
    second.output(),
    new RegExp(
      `already running with data in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${platform.child.pid}\\)`,
    ),
  );
  assert.doesNotMatch(second.output(), /nats-server nats:/);
  const list = await platform.cli(['domain', 'add', 'restart.test']);
  assert.equal(list.code, 0, list.stderr);
});

test('kill -9 of the platform process does not block the next start, which stops what it left', async () => {
  const left = processesUsing(dataDir).filter((p) => pidOf(p) !== platform.child.pid);
  assert.ok(
    left.some((p) => p.includes('nats-server')),
    'nats-server was running',
  );
  platform.child.kill('SIGKILL');
  await platform.exited;

  platform = await startLocalPlatform({ offset, dataDir });
  assert.match(platform.output(), /stopped what a platform killed earlier left running/);
  await eventually(
    'the killed platform’s processes gone',
    async () => (left.every((p) => !alive(pidOf(p))) ? true : undefined),
    30_000,
  );
  const list = await platform.cli(['domain', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^restart\.test\s+local/m);
});

test('SIGTERM with the output already gone (`npm start | tee` ended by Ctrl-C) stops everything: no process, port or run file left', async () => {
  // Ctrl-C ends tee too, so the platform's first line about stopping meets a closed pipe.
  platform.child.stdout!.destroy();
  platform.child.stderr!.destroy();
  platform.child.kill('SIGTERM');
  assert.equal(await platform.exited, 0);
  assert.deepEqual(processesUsing(dataDir), []);
  for (const port of [4222, 8322, 54329, 2587, 2993, 7001]) {
    assert.ok(await isPortFree(port + offset), `port ${port + offset} free`);
  }
  assert.ok(!existsSync(join(dataDir, 'local.env')), 'local.env removed');
  assert.ok(!existsSync(join(dataDir, 'platform.pid')), 'platform.pid removed');
});

test('a missing prerequisite is named with how to get it, and nothing is left running', async () => {
  for (const [env, expected] of [
    // No nats-server to be found and no Go to build one.
    [
      { PATH: '/usr/bin:/bin', HERMOD_CACHE_DIR: await testWorkdir('empty-cache'), NATS_SERVER_BIN: '' },
      /nats-server v[\d.]+ \(not cached\) and the Go toolchain to build it is missing: install Go/,
    ],
    // A NATS_SERVER_BIN that is not there.
    [{ NATS_SERVER_BIN: '/nonexistent/nats-server' }, /NATS_SERVER_BIN=\/nonexistent\/nats-server/],
  ] as const) {
    const dir = await testWorkdir('prerequisite');
    const failed = await startLocalPlatform({
      offset: await freePortOffset(),
      dataDir: dir,
      env,
      expectFailure: true,
    });
    assert.equal(await failed.exited, 1, failed.output());
    assert.match(failed.output(), expected);
    assert.doesNotMatch(failed.output(), /Unhandled 'error' event|\n\s+at /);
    assert.deepEqual(processesUsing(dir), []);
    assert.ok(!existsSync(join(dir, 'platform.pid')), 'platform.pid removed');
  }
});
