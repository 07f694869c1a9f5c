import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadReplyClassifier } from '../src/delivery/classify.js';
import { deliverMessage, type PreparedMessage } from '../src/delivery/deliver-message.js';
import { ignoresTlsPolicy } from '../src/delivery/require-tls.js';
import type { SmtpSession } from '../src/delivery/smtp-session.js';
import type { QueueEntry } from '../src/queue/lease.js';

/** A fake session with chosen EHLO keywords that records what it was asked to send (unit tests only). */
function fakeSession(extensions: string[], maxSize = 0, verifiedTls = false) {
  const sent: Array<{ from: string; recipients: string[]; eightBit: boolean; requireTls?: boolean }> = [];
  const session = {
    tlsOutcome: 'none',
    maxSize,
    verifiedTls,
    supports: (e: string) => extensions.includes(e),
    send: async (
      from: string,
      recipients: string[],
      _data: Buffer,
      { eightBit, requireTls = false }: { eightBit: boolean; requireTls?: boolean },
    ) => {
      sent.push({ from, recipients, eightBit, ...(requireTls ? { requireTls } : {}) });
      return { accepted: recipients, rejected: [], reply: '250 2.0.0 queued' };
    },
    reset: async () => {},
  };
  return { session: session as unknown as SmtpSession, sent };
}

const entry = (recipient: string): QueueEntry => ({
  spoolId: 'spool-1',
  rcptIndex: 0,
  domain: recipient.split('@')[1]!,
  recipient,
  mailFrom: 'alice@hermod.test',
  attempts: 0,
  queuedAt: new Date(0),
  expiresAt: new Date(86_400_000),
  delayNotified: false,
  destination: null,
});

function prepared(data: string, options: { smtpUtf8?: boolean; requireTls?: boolean } = {}): PreparedMessage {
  const bytes = Buffer.from(data, 'utf8');
  return {
    context: {
      spoolId: 'spool-1',
      receivedAt: new Date(0),
      recipientParameters: new Map(),
      originalHeaders: Buffer.alloc(0),
    },
    data: bytes,
    eightBit: bytes.some((b) => b > 0x7f),
    mailFrom: 'alice@hermod.test',
    smtpUtf8: options.smtpUtf8 ?? false,
    requireTls: options.requireTls ?? false,
    ignoreTlsPolicy: false,
    dsn: {},
  };
}

const classify = loadReplyClassifier();
const ascii = 'Subject: hi\r\n\r\nhello\r\n';
const eightBit = 'Subject: hi\r\n\r\nCafé\r\n';

/** One transaction against a remote with `extensions` (and SIZE `maxSize`): outcomes and what was sent. */
async function attempt(
  extensions: string[],
  data: string,
  options: {
    maxSize?: number;
    smtpUtf8?: boolean;
    recipient?: string;
    requireTls?: boolean;
    verifiedTls?: boolean;
  } = {},
) {
  const { session, sent } = fakeSession(extensions, options.maxSize, options.verifiedTls);
  const results = await deliverMessage(
    session,
    prepared(data, options),
    [entry(options.recipient ?? 'bob@example.org')],
    classify,
    'mx',
  );
  return { outcome: results.map((r) => [r.kind, r.status]), reply: results[0]?.reply, sent };
}

describe('deliverMessage: remote capabilities', () => {
  it('fails permanently (5.3.4) without sending when the message exceeds the remote SIZE', async () => {
    const { outcome, reply, sent } = await attempt(['SIZE'], ascii, { maxSize: 10 });
    assert.deepEqual(outcome, [['failed', '5.3.4']]);
    assert.match(reply ?? '', /exceeds mx's limit of 10/);
    assert.deepEqual(sent, []);
  });

  it('sends when the message is within SIZE, or SIZE has no limit', async () => {
    for (const maxSize of [ascii.length, 0]) {
      const { outcome, sent } = await attempt(['SIZE'], ascii, { maxSize });
      assert.deepEqual(outcome, [['delivered', '2.0.0']]);
      assert.equal(sent.length, 1);
    }
  });

  it('bounces 8-bit content (5.6.3) to a remote without 8BITMIME, without sending', async () => {
    const { outcome, sent } = await attempt(['PIPELINING'], eightBit);
    assert.deepEqual(outcome, [['failed', '5.6.3']]);
    assert.deepEqual(sent, []);
  });

  it('sends 8-bit content with BODY=8BITMIME to a remote that has it', async () => {
    const { outcome, sent } = await attempt(['8BITMIME'], eightBit);
    assert.deepEqual(outcome, [['delivered', '2.0.0']]);
    assert.deepEqual(sent, [{ from: 'alice@hermod.test', recipients: ['bob@example.org'], eightBit: true }]);
  });

  it('bounces a message needing SMTPUTF8 (5.6.7) to a remote without it, without sending', async () => {
    const { outcome, sent } = await attempt(['8BITMIME'], ascii, {
      smtpUtf8: true,
      recipient: 'jürgen@example.org',
    });
    assert.deepEqual(outcome, [['failed', '5.6.7']]);
    assert.deepEqual(sent, []);
  });

  it('sends a message needing SMTPUTF8 to a remote that has it', async () => {
    const { outcome, sent } = await attempt(['8BITMIME', 'SMTPUTF8'], ascii, {
      smtpUtf8: true,
      recipient: 'jürgen@example.org',
    });
    assert.deepEqual(outcome, [['delivered', '2.0.0']]);
    assert.equal(sent.length, 1);
  });
});

describe('deliverMessage: REQUIRETLS (RFC 8689)', () => {
  it('bounces (5.7.30) without sending when the TLS was not verified under a policy', async () => {
    const { outcome, reply, sent } = await attempt(['REQUIRETLS'], ascii, { requireTls: true });
    assert.deepEqual(outcome, [['failed', '5.7.30']]);
    assert.match(reply ?? '', /no verified TLS to mx/);
    assert.deepEqual(sent, []);
  });

  it('bounces (5.7.30) without sending when the remote does not offer REQUIRETLS', async () => {
    const { outcome, reply, sent } = await attempt(['8BITMIME'], ascii, {
      requireTls: true,
      verifiedTls: true,
    });
    assert.deepEqual(outcome, [['failed', '5.7.30']]);
    assert.match(reply ?? '', /does not offer REQUIRETLS/);
    assert.deepEqual(sent, []);
  });

  it('passes REQUIRETLS on over verified TLS to a remote that offers it', async () => {
    const { outcome, sent } = await attempt(['REQUIRETLS'], ascii, { requireTls: true, verifiedTls: true });
    assert.deepEqual(outcome, [['delivered', '2.0.0']]);
    assert.deepEqual(sent, [
      { from: 'alice@hermod.test', recipients: ['bob@example.org'], eightBit: false, requireTls: true },
    ]);
  });

  it('leaves a message without REQUIRETLS alone on an unverified session', async () => {
    const { outcome, sent } = await attempt([], ascii);
    assert.deepEqual(outcome, [['delivered', '2.0.0']]);
    assert.equal(sent.length, 1);
  });
});

describe('ignoresTlsPolicy (RFC 8689 section 5)', () => {
  const head = (text: string) => Buffer.from(text, 'latin1');
  it('is true for TLS-Required: No in any case, folded or not', () => {
    assert.equal(ignoresTlsPolicy(head('Subject: x\r\nTLS-Required: No\r\n\r\n'), false), true);
    assert.equal(ignoresTlsPolicy(head('tls-required:\r\n  no\r\n\r\n'), false), true);
  });
  it('is false without the field, with another value, and when REQUIRETLS was given', () => {
    assert.equal(ignoresTlsPolicy(head('Subject: x\r\n\r\n'), false), false);
    assert.equal(ignoresTlsPolicy(head('TLS-Required: Yes\r\n\r\n'), false), false);
    assert.equal(ignoresTlsPolicy(head('TLS-Required: No\r\n\r\n'), true), false);
  });
});
