// recipientHook, msa's and mx's one RCPT TO: session checks first, then the service's own check,
// then routing; a refusal is recorded with the recipient as routing canonicalised it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import { routingV1 } from '@hermod/proto';
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { RecipientRoutes, recipientHook, smtpError } from '../src/index.js';

const { Verdict } = routingV1;

const answer = (
  verdict: routingV1.Verdict,
  canonicalAddress: string,
): routingV1.ValidateRecipientResponse => ({
  verdict,
  smtpCode: verdict === Verdict.VERDICT_ACCEPT ? 250 : 550,
  enhancedCode: verdict === Verdict.VERDICT_ACCEPT ? '2.1.5' : '5.1.1',
  message: verdict === Verdict.VERDICT_ACCEPT ? 'OK' : 'No such user',
  destination: '',
  canonicalAddress,
  localRoute: undefined,
  senderDependent: false,
});

function setUp(reply: routingV1.ValidateRecipientResponse, rcptTo: unknown[] = []) {
  const asked: routingV1.ValidateRecipientRequest[] = [];
  const refusals: Array<{ reason: string; details: Record<string, unknown> }> = [];
  const deps = {
    validateRecipient: async (request: routingV1.ValidateRecipientRequest) => {
      asked.push(request);
      return reply;
    },
    recipientRoutes: new RecipientRoutes(),
    refused: (_session: { id: string }, reason: string, details: Record<string, unknown>) =>
      refusals.push({ reason, details }),
    logger: silentLogger(),
    postmaster: 'postmaster@example.test',
  };
  const session = {
    id: 's1',
    envelope: { mailFrom: { address: 'sender@example.test', args: {} }, rcptTo },
  } as unknown as SMTPServerSession;
  return { asked, refusals, deps, session };
}

const rcpt = (
  hook: ReturnType<typeof recipientHook>,
  address: string,
  session: SMTPServerSession,
): Promise<(Error & { responseCode?: number }) | null | undefined> =>
  new Promise((resolve) =>
    hook({ address, args: {} } as SMTPServerAddress, session, (error) => resolve(error)),
  );

test("routing is asked with the channel and sender; a refusal names routing's canonical recipient", async () => {
  const { asked, refusals, deps, session } = setUp(
    answer(Verdict.VERDICT_UNKNOWN_USER, 'nobody@example.test'),
  );
  const hook = recipientHook(deps, { maxRecipients: 10, channel: routingV1.Channel.CHANNEL_INBOUND });
  const error = await rcpt(hook, 'NoBody@Example.Test', session);
  assert.equal(error?.responseCode, 550);
  assert.deepEqual(asked, [
    {
      address: 'NoBody@Example.Test',
      channel: routingV1.Channel.CHANNEL_INBOUND,
      sender: 'sender@example.test',
    },
  ]);
  assert.deepEqual(refusals, [
    { reason: 'recipient', details: { code: 550, recipient: 'nobody@example.test' } },
  ]);
});

test('the session limit refuses before the service check and routing; beforeRouting decides whether routing is asked', async () => {
  const full = setUp(answer(Verdict.VERDICT_ACCEPT, 'a@example.test'), [{}, {}]);
  let checked = 0;
  const limited = recipientHook(full.deps, {
    maxRecipients: 2,
    channel: routingV1.Channel.CHANNEL_SUBMISSION,
    beforeRouting: (_a, _s, _cb, ask) => {
      checked++;
      ask();
    },
  });
  assert.equal((await rcpt(limited, 'a@example.test', full.session))?.responseCode, 452);
  assert.equal(checked, 0);
  assert.equal(full.asked.length, 0);

  const open = setUp(answer(Verdict.VERDICT_ACCEPT, 'a@example.test'));
  const refusing = recipientHook(open.deps, {
    maxRecipients: 2,
    channel: routingV1.Channel.CHANNEL_SUBMISSION,
    beforeRouting: (_a, _s, callback) => callback(smtpError(452, '4.5.3', 'Hourly recipient limit reached')),
  });
  assert.equal((await rcpt(refusing, 'a@example.test', open.session))?.responseCode, 452);
  assert.equal(open.asked.length, 0);
  const passing = recipientHook(open.deps, {
    maxRecipients: 2,
    channel: routingV1.Channel.CHANNEL_SUBMISSION,
    beforeRouting: (_a, _s, _cb, ask) => ask(),
  });
  assert.equal(await rcpt(passing, 'a@example.test', open.session), undefined);
  assert.equal(open.asked.length, 1);
});
