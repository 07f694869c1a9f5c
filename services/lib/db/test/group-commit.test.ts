import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommitOutcomeUnknownError } from '../src/errors.js';
import { GroupCommitter } from '../src/group-commit.js';

test('a lone item is written at once; items arriving meanwhile share the next write', async () => {
  const writes: number[][] = [];
  let release: () => void = () => {};
  const committer = new GroupCommitter<number>(
    async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => (release = r));
    },
    { maxBatch: 3, maxConcurrent: 1 },
  );
  const first = committer.submit(1);
  const rest = [2, 3, 4, 5].map((n) => committer.submit(n));
  assert.deepEqual(writes, [[1]], 'the first item did not wait for company');
  release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(writes, [[1], [2, 3, 4], [5]], 'queued items batched up to maxBatch');
});

test('with sameTurn, the items submitted in one turn of the event loop share the first write', async () => {
  const writes: number[][] = [];
  const committer = new GroupCommitter<number>(
    async (items) => {
      writes.push(items);
    },
    { maxBatch: 3, maxConcurrent: 4, sameTurn: true },
  );
  const all = [1, 2, 3, 4].map((n) => committer.submit(n));
  assert.deepEqual(writes, [], 'the write starts at the end of the turn');
  await Promise.all(all);
  assert.deepEqual(writes, [[1, 2, 3], [4]], 'one write for the turn, up to maxBatch');
  await committer.submit(5);
  assert.deepEqual(writes, [[1, 2, 3], [4], [5]], 'a lone item is written in its own turn');
});

test('a failed batch is retried item by item: only the bad item fails', async () => {
  const committer = new GroupCommitter<number>(
    async (items) => {
      if (items.includes(13)) throw new Error('bad item');
    },
    { maxBatch: 10, maxConcurrent: 1 },
  );
  const hold = committer.submit(0);
  const results = await Promise.allSettled([11, 12, 13, 14].map((n) => committer.submit(n)));
  await hold;
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
});

test('a batch whose commit outcome is unknown is not written again: every item gets the error', async () => {
  const writes: number[][] = [];
  const committer = new GroupCommitter<number>(
    async (items) => {
      writes.push(items);
      if (items.length > 1) throw new CommitOutcomeUnknownError(new Error('Query read timeout'));
    },
    { maxBatch: 10, maxConcurrent: 1 },
  );
  const hold = committer.submit(0);
  const results = await Promise.allSettled([1, 2, 3].map((n) => committer.submit(n)));
  await hold;
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'rejected'],
  );
  assert.deepEqual(writes, [[0], [1, 2, 3]], 'no item of the unanswered batch was written again');
});

test('onWrite reports, for each successful write, how long each item waited and the write itself', async () => {
  const reports: Array<{ waited: number[]; write: number }> = [];
  let release: () => void = () => {};
  let writes = 0;
  const committer = new GroupCommitter<number>(
    async () => {
      writes++;
      if (writes === 1) await new Promise<void>((r) => (release = r));
    },
    { maxBatch: 4, maxConcurrent: 1, onWrite: (waited, write) => reports.push({ waited, write }) },
  );
  const first = committer.submit(1);
  const queued = [committer.submit(2), committer.submit(3)];
  const heldFor = process.hrtime.bigint();
  // The queued items wait for the first write: at least as long as it is held.
  await new Promise<void>((r) => setImmediate(r));
  const held = Number(process.hrtime.bigint() - heldFor) / 1e9;
  release();
  await Promise.all([first, ...queued]);
  assert.equal(reports.length, 2);
  assert.equal(reports[0]!.waited.length, 1, 'one wait per item of the first write');
  assert.ok(reports[0]!.write >= held, 'the first write lasted while it was held');
  assert.equal(reports[1]!.waited.length, 2, 'one wait per item of the second write');
  for (const w of reports[1]!.waited) assert.ok(w >= held, 'queued items waited for the first write');
});
