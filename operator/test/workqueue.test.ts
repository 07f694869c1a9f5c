import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import { createMetricsRegistry } from '@hermod/service-runtime';
import { Controller } from '../src/controller/controller.js';
import { WorkQueue } from '../src/kube/workqueue.js';
import { createOperatorMetrics } from '../src/metrics.js';

test('a key is queued once, and never handed to two workers at the same time', async () => {
  const queue = new WorkQueue();
  queue.add('a');
  queue.add('a');
  queue.add('b');
  assert.equal(queue.depth, 2);
  const first = await queue.get();
  assert.equal(first, 'a');
  queue.add('a'); // changed while processing: comes back after done(), not now
  assert.equal(await queue.get(), 'b');
  assert.equal(queue.depth, 0);
  queue.done('a');
  assert.equal(await queue.get(), 'a');
});

test('failures back off exponentially per key up to the cap; forget resets', () => {
  const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1_000 });
  const delays = Array.from({ length: 7 }, () => queue.addRateLimited('k'));
  assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  assert.equal(queue.addRateLimited('other'), 100);
  queue.forget('k');
  assert.equal(queue.addRateLimited('k'), 100);
  queue.shutDown();
});

test('a reconcile that keeps failing is retried with growing delays, not in a tight loop', async () => {
  const queue = new WorkQueue({ baseDelayMs: 20, maxDelayMs: 160 });
  const attempts: number[] = [];
  const controller = new Controller({
    name: 'test',
    queue,
    workers: 2,
    logger: silentLogger(),
    metrics: createOperatorMetrics(createMetricsRegistry('test')),
    reconciler: {
      reconcile: async () => {
        attempts.push(Date.now());
        throw new Error('dependency down');
      },
    },
  });
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  // Six attempts, then stop: the five gaps between them are 20, 40, 80, 160, 160 ms at least
  // (a timer may fire late, never early), not a tight loop.
  const sixth = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (attempts.length >= 6) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  queue.add('k');
  await sixth;
  stop.abort();
  await running;
  const gaps = attempts.slice(1, 6).map((t, i) => t - (attempts[i] ?? t));
  [20, 40, 80, 160, 160].forEach((least, i) => {
    assert.ok((gaps[i] ?? 0) >= least * 0.9, `gap ${i + 1} is ${gaps[i]} ms, at least ${least} ms expected`);
  });
});
