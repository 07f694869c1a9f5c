import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '@hermod/logging';
import { routingV1 } from '@hermod/proto';
import type { RefusalReason } from '../src/refusals.js';
import { answerRecipient, recipientRefusalReason } from '../src/routing-recipient-check.js';

const { Verdict } = routingV1;

test("routing's verdicts map to the refusal reasons msa and mx count", () => {
  assert.equal(recipientRefusalReason(Verdict.VERDICT_RELAY_DENIED), 'relay');
  assert.equal(recipientRefusalReason(Verdict.VERDICT_BAD_ADDRESS), 'recipient-syntax');
  for (const verdict of [
    Verdict.VERDICT_UNKNOWN_USER,
    Verdict.VERDICT_SENDER_REFUSED,
    Verdict.VERDICT_TEMPORARY_FAILURE,
  ])
    assert.equal(recipientRefusalReason(verdict), 'recipient');
});

test('answerRecipient hands the refusal reason to onRefused with routing reply', async () => {
  const refused: Array<[number, RefusalReason]> = [];
  const replies: string[] = [];
  await new Promise<void>((resolve) =>
    answerRecipient(
      async () => ({
        verdict: Verdict.VERDICT_RELAY_DENIED,
        smtpCode: 550,
        enhancedCode: '5.7.1',
        message: 'Relaying denied',
        destination: '',
        canonicalAddress: '',
        localRoute: undefined,
        senderDependent: false,
      }),
      { address: 'a%b@example.test', channel: routingV1.Channel.CHANNEL_INBOUND, sender: '' },
      (error) => {
        replies.push(String(error?.message));
        resolve();
      },
      {
        logger: {} as Logger,
        sessionId: 's',
        onRefused: (code, _answer, reason) => refused.push([code, reason]),
      },
    ),
  );
  assert.deepEqual(refused, [[550, 'relay']]);
  assert.match(replies[0]!, /Relaying denied/);
});
