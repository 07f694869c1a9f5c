import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { claimRunFile, leftoverName, RUN_FILE, RUN_MARKER, releaseRunFile } from '../src/run-file.js';

const startTime = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

test('a data folder is claimed over a stale pid file, refused while its platform runs, and released', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'run-file-'));
  const previous = process.env[RUN_MARKER];
  // Stands in for another platform: alive, and its start time is what its pid file says.
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await writeFile(join(dir, RUN_FILE), `${other.pid}\n${await startTime(other.pid!)}\n`);
    assert.deepEqual(await claimRunFile(dir), { claimed: false, runningPid: other.pid });

    // The same pid with another start time is a reused pid, not that platform: stale.
    await writeFile(join(dir, RUN_FILE), `${other.pid}\n1\n`);
    const claim = await claimRunFile(dir);
    assert.equal(claim.claimed, true);
    assert.equal(process.env[RUN_MARKER], dir);
    assert.equal((await readFile(join(dir, RUN_FILE), 'utf8')).split('\n')[0], String(process.pid));
    await releaseRunFile(dir);
    await assert.rejects(readFile(join(dir, RUN_FILE)), { code: 'ENOENT' });
  } finally {
    other.kill();
    await once(other, 'exit');
    if (previous === undefined) delete process.env[RUN_MARKER];
    else process.env[RUN_MARKER] = previous;
    await rm(dir, { recursive: true, force: true });
  }
});

test('leftovers are named for a person: the service, else the program', () => {
  assert.equal(leftoverName('/usr/bin/node --import tsx services/mda/src/main.ts'), 'mda');
  assert.equal(
    leftoverName('/cache/bin/nats-server-v2.12.15 -c /data/nats/nats-server.conf'),
    'nats-server-v2.12.15',
  );
  assert.equal(leftoverName('/pg/bin/postgres -D /data/postgres -p 54329'), 'postgres');
});
