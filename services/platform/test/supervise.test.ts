import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartDelayMs, type Supervised, supervise } from '../src/supervise.js';

test('a crashed service is started again for ever, with growing delays, until the platform stops', async () => {
  const sleeps: number[] = [];
  const said: string[] = [];
  let starts = 0;
  let stopped = 0;
  let stopping = false;
  const proc: Supervised = {
    name: 'mx',
    running: false,
    async start() {
      starts++;
      // Fails five times, then comes up; the platform stops once it is up.
      if (starts <= 5) throw new Error(`boom ${starts}\nstack`);
      (proc as { running: boolean }).running = true;
      stopping = true;
    },
    async stop() {
      stopped++;
    },
  };
  await supervise(proc, {
    say: (line) => said.push(line),
    stopping: () => stopping,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    checkEveryMs: 1,
  });
  assert.equal(starts, 6, 'kept trying after failures');
  assert.equal(stopped, 5, 'a start that failed is stopped before the next one');
  assert.deepEqual(
    sleeps.filter((ms) => ms !== 1),
    [1_000, 2_000, 4_000, 8_000, 16_000, 30_000],
  );
  assert.match(said.join('\n'), /mx did not start \(attempt 5\): boom 5$/m);
  assert.match(said.at(-1)!, /mx restarted/);
  assert.equal(restartDelayMs(0), 1_000);
  assert.equal(restartDelayMs(20), 30_000);
});
