// timeSmtpHooks observes each hook's wait until its reply and the client's turnaround between our
// reply and its next command; the hooks' arguments and replies pass through unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SMTPServerSession } from 'smtp-server';
import { commitPhases, phaseObserver, type SmtpPhase, timeSmtpHooks } from '../src/index.js';

test('MAIL, RCPT and DATA are timed to their replies, the turnaround between them per session', async () => {
  const observed: Array<[SmtpPhase, number]> = [];
  const replies: unknown[] = [];
  const hooks = timeSmtpHooks(
    {
      onMailFrom: (_address, _session, callback) => callback(),
      onRcptTo: (_address, _session, callback) => setImmediate(() => callback(new Error('refused'))),
      onData: (_stream, _session, callback) => callback(null, 'queued'),
    },
    (phase, seconds) => observed.push([phase, seconds]),
  );
  const session = {} as SMTPServerSession;
  const other = {} as SMTPServerSession;
  await new Promise<void>((r) => hooks.onMailFrom!({ address: 'a@x.test', args: {} }, session, () => r()));
  await new Promise<void>((r) =>
    hooks.onRcptTo!({ address: 'b@x.test', args: {} }, session, (error) => {
      replies.push(error?.message);
      r();
    }),
  );
  await new Promise<void>((r) => hooks.onMailFrom!({ address: 'a@x.test', args: {} }, other, () => r()));
  await new Promise<void>((r) =>
    hooks.onData!({} as never, session, (_error, message) => {
      replies.push(message);
      r();
    }),
  );
  assert.deepEqual(replies, ['refused', 'queued'], 'replies pass through');
  assert.deepEqual(
    observed.map(([p]) => p),
    ['mail', 'client', 'rcpt', 'mail', 'client', 'data'],
    "the first command of a session has no turnaround; another session's reply does not count",
  );
  assert.ok(observed.every(([, s]) => s >= 0));
});

test('phaseObserver looks up each phase label once', () => {
  const lookups: string[] = [];
  const values: Array<[string, number]> = [];
  const observe = phaseObserver({
    labels: ({ phase }) => {
      lookups.push(phase);
      return { observe: (s) => values.push([phase, s]) };
    },
  });
  observe('commit', 0.01);
  observe('commit', 0.02);
  observe('client', 0.001);
  assert.deepEqual(lookups, ['commit', 'client']);
  assert.deepEqual(values, [
    ['commit', 0.01],
    ['commit', 0.02],
    ['client', 0.001],
  ]);
});

test('commitPhases: one commit-queue per message of a write, one commit-write per write', () => {
  const observed: Array<[SmtpPhase, number]> = [];
  commitPhases((phase, seconds) => observed.push([phase, seconds]))([0.001, 0.002], 0.005);
  assert.deepEqual(observed, [
    ['commit-queue', 0.001],
    ['commit-queue', 0.002],
    ['commit-write', 0.005],
  ]);
});
