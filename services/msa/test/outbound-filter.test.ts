// The outbound check's decisions with a stand-in for Rspamd's answer: a reject refuses with
// 554 5.7.1, is counted and reported against the authenticated account (a failing report still
// refuses); soft reject asks to retry; Rspamd down follows the fail mode; the User header is sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type RspamdClient,
  type RspamdScanInput,
  RspamdUnavailableError,
  type RspamdVerdict,
} from '@hermod/content-scan';
import { silentLogger } from '@hermod/logging';
import type { SMTPServerSession } from 'smtp-server';
import {
  checkOutboundSpam,
  type OutboundFilterDeps,
  observeSubmissionMalware,
  type SendingAbuseEvent,
} from '../src/policy/outbound-filter.js';

const session = {
  id: 's1',
  remoteAddress: '192.0.2.5',
  user: { accountId: 42, address: 'alice@example.test' },
  envelope: {
    mailFrom: { address: 'alice@example.test', args: false },
    rcptTo: [{ address: 'x@remote.example', args: false }],
  },
} as unknown as SMTPServerSession;

function setup(answer: RspamdVerdict | Error, report?: (e: SendingAbuseEvent) => Promise<void>) {
  const seen: RspamdScanInput[] = [];
  const reports: SendingAbuseEvent[] = [];
  const counted: string[] = [];
  const deps: OutboundFilterDeps = {
    logger: silentLogger(),
    rspamd: {
      scan: async (input: RspamdScanInput) => {
        seen.push(input);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    } as unknown as RspamdClient,
    rspamdFailMode: 'tempfail',
    hostname: 'msa.example.test',
    refusedContent: { inc: ({ reason }) => counted.push(reason) },
    sendingAbuse: {
      report:
        report ??
        (async (e) => {
          reports.push(e);
        }),
    },
  };
  return { deps, seen, reports, counted };
}

const input = {
  session,
  spoolId: 'sp1',
  mailFrom: 'alice@example.test',
  helo: 'client',
  message: [] as unknown as AsyncIterable<Buffer>,
};
const verdict = (action: RspamdVerdict['action']): RspamdVerdict => ({
  action,
  score: 16,
  requiredScore: 15,
  symbols: ['GTUBE'],
});

test('reject: 554 5.7.1, counted, reported against the account, User header sent', async () => {
  const { deps, seen, reports, counted } = setup(verdict('reject'));
  const d = await checkOutboundSpam(deps, input);
  assert.deepEqual(d, {
    action: 'reject',
    code: 554,
    status: '5.7.1',
    text: 'Message refused as spam (score 16.0)',
    reason: 'spam',
  });
  assert.equal(seen[0]?.user, 'alice@example.test');
  assert.deepEqual(counted, ['spam']);
  assert.deepEqual(
    reports.map((r) => [r.accountId, r.address, r.kind, r.spoolId]),
    [[42, 'alice@example.test', 'spam', 'sp1']],
  );
});

test('a failing sending-abuse hook does not let the message through', async () => {
  const { deps } = setup(verdict('reject'), async () => {
    throw new Error('accounts down');
  });
  assert.equal((await checkOutboundSpam(deps, input)).action, 'reject');
});

test('soft reject asks to retry; add header and no action are accepted unreported', async () => {
  assert.equal((await checkOutboundSpam(setup(verdict('soft reject')).deps, input)).action, 'tempfail');
  for (const action of ['add header', 'no action'] as const) {
    const { deps, reports } = setup(verdict(action));
    assert.deepEqual(await checkOutboundSpam(deps, input), { action: 'accept' });
    assert.equal(reports.length, 0);
  }
});

test('Rspamd unavailable: 451 4.7.1 when tempfail, accepted when open', async () => {
  const down = new RspamdUnavailableError(new Error('ECONNREFUSED'));
  assert.deepEqual(await checkOutboundSpam(setup(down).deps, input), {
    action: 'tempfail',
    code: 451,
    status: '4.7.1',
    text: 'Content scanner unavailable, try again later',
    reason: 'rspamd-unavailable',
  });
  const open = setup(down).deps;
  open.rspamdFailMode = 'open';
  assert.deepEqual(await checkOutboundSpam(open, input), { action: 'accept' });
});

test('an infected submission is counted and reported; a clean one is not', async () => {
  const { deps, reports, counted } = setup(verdict('no action'));
  const observe = observeSubmissionMalware(deps);
  observe({ status: 'clean' }, 'sp2', session);
  observe({ status: 'infected', signature: 'Hermod.Test.EICAR' }, 'sp3', session);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(counted, ['malware']);
  assert.deepEqual(
    reports.map((r) => [r.kind, r.detail, r.spoolId]),
    [['malware', 'Hermod.Test.EICAR', 'sp3']],
  );
});
