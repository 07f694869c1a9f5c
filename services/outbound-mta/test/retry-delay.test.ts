import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRetryDelayMs } from '../src/queue/finish.js';

const schedule = [300_000, 600_000, 3_600_000];

describe('nextRetryDelayMs', () => {
  it('follows the schedule by attempt, the last step repeating', () => {
    const deps = { retryScheduleMs: schedule, backupRetryMs: 60_000 };
    const remote = { kind: 'remote', domain: 'example.org' };
    assert.equal(nextRetryDelayMs(deps, { attempts: 0, destination: remote }), 300_000);
    assert.equal(nextRetryDelayMs(deps, { attempts: 1, destination: remote }), 600_000);
    assert.equal(nextRetryDelayMs(deps, { attempts: 9, destination: remote }), 3_600_000);
    assert.equal(nextRetryDelayMs(deps, { attempts: 9, destination: null }), 3_600_000);
  });

  it('retries mail held for a primary MX (backup) at the short fixed interval', () => {
    const deps = { retryScheduleMs: schedule, backupRetryMs: 60_000 };
    const backup = { kind: 'backup', domain: 'example.org', excludeHosts: ['mx2.example.net'] };
    assert.equal(nextRetryDelayMs(deps, { attempts: 0, destination: backup }), 60_000);
    assert.equal(nextRetryDelayMs(deps, { attempts: 50, destination: backup }), 60_000);
  });

  it('never waits longer for backup mail than the schedule would', () => {
    const deps = { retryScheduleMs: [1_000], backupRetryMs: 60_000 };
    assert.equal(nextRetryDelayMs(deps, { attempts: 3, destination: { kind: 'backup' } }), 1_000);
    assert.equal(
      nextRetryDelayMs({ retryScheduleMs: [1_000] }, { attempts: 3, destination: { kind: 'backup' } }),
      1_000,
    );
  });
});
