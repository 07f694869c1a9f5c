import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { spawnServer, waitForPort } from '../src/child-process.js';
import { freePort } from '../src/free-port.js';

test('a server that cannot be started is reported by whoever waits for it, not by an unhandled error', async () => {
  const { child, output } = spawnServer('/nonexistent/server-binary', ['--port', '1']);
  await once(child, 'error');
  await assert.rejects(
    waitForPort(await freePort(), 5_000, '127.0.0.1', () => child.exitCode !== null),
    /process exited before listening/,
  );
  assert.match(
    output(),
    /cannot run \/nonexistent\/server-binary: spawn \/nonexistent\/server-binary ENOENT/,
  );
});
