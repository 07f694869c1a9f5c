// A script or test file run on its own gets a private PostgreSQL cluster from testDatabase(); when
// that process exits (also by process.exit, as benches do), the cluster must go with it. The exit
// hook used to start an asynchronous kill that never got to signal, so every such run left a
// postmaster and its backends behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { test } from 'node:test';
import { eventually } from '@hermod/test/harness';

const script = `
import { testDatabase } from '@hermod/test/harness';
const db = await testDatabase();
await db.close();
process.stdout.write(new URL(db.url.replace(/^postgres(ql)?:/, 'http:')).port + '\\n');
process.exit(0);
`;

function refused(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', () => resolve(true));
  });
}

test('the private PostgreSQL of a process run on its own stops when the process exits', async () => {
  const env = { ...process.env };
  delete env.HERMOD_TEST_PG_ADMIN_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  const port = Number(out.trim());
  assert.ok(port > 0, `the script printed its cluster's port: ${out}`);
  await eventually(`PostgreSQL on port ${port} to be gone`, () => refused(port), 10_000);
});
