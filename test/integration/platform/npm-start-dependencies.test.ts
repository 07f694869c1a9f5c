// `npm start` keeps its own dependencies up as it keeps its services up: nats-server or the embedded
// PostgreSQL killed with kill -9 is started again by the platform (as a StatefulSet would be), and
// every service is ready again by itself, without restarting the platform.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import {
  eventually,
  freePortOffset,
  type LocalPlatform,
  startLocalPlatform,
  testWorkdir,
} from '@hermod/test/harness';

let platform: LocalPlatform;
/** The services' ops ports (services.ts: 9101-9106 plus the offset). */
let opsPorts: number[] = [];

before(async () => {
  const offset = await freePortOffset();
  platform = await startLocalPlatform({ offset, dataDir: join(await testWorkdir('npm-start-deps'), 'data') });
  opsPorts = [9101, 9102, 9103, 9104, 9105, 9106].map((p) => p + offset);
});

after(async () => {
  await platform?.stop();
});

/** The pid of the platform's child process whose command name starts with `name` (ps cuts it at 15). */
async function childPid(name: string): Promise<number> {
  const { stdout } = await promisify(execFile)('ps', [
    '-o',
    'pid=,comm=',
    '--ppid',
    String(platform.child.pid),
  ]);
  const line = stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find(([, comm]) => comm?.startsWith(name));
  if (!line?.[0]) throw new Error(`no ${name} under the platform:\n${stdout}`);
  return Number(line[0]);
}

async function everyServiceReady(): Promise<boolean | undefined> {
  const statuses = await Promise.all(
    opsPorts.map(async (port) => (await fetch(`http://127.0.0.1:${port}/readyz`)).status),
  );
  return statuses.every((s) => s === 200) ? true : undefined;
}

async function anyServiceNotReady(): Promise<boolean | undefined> {
  return (await everyServiceReady()) ? undefined : true;
}

for (const [dependency, command] of [
  ['nats-server', 'nats-server'],
  ['PostgreSQL', 'postgres'],
] as const) {
  test(`${dependency} killed with kill -9 under npm start is started again, and every service is ready again`, async () => {
    await eventually('every service ready', everyServiceReady, 60_000);
    const pid = await childPid(command);
    process.kill(pid, 'SIGKILL');
    await eventually(`a service not ready without ${dependency}`, anyServiceNotReady, 15_000);
    const restarted = await eventually(
      `${dependency} running again under the platform`,
      async () => {
        const now = await childPid(command).catch(() => undefined);
        return now !== undefined && now !== pid ? now : undefined;
      },
      60_000,
    ).catch((error: Error) => assert.fail(`${error.message}:\n${platform.output().slice(-3_000)}`));
    assert.notEqual(restarted, pid);
    await eventually('every service ready again', everyServiceReady, 60_000).catch((error: Error) =>
      assert.fail(`${error.message}:\n${platform.output().slice(-3_000)}`),
    );
    assert.equal(platform.child.exitCode, null, 'the platform is still running');
  });
}
