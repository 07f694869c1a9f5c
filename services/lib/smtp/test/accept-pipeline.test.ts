// The accept pipeline's dispositions: a scan sees the message as it arrives and its refusal or
// quarantine wins; the service's verdict may quarantine; accepted and quarantined messages carry
// the dispositions' fields first; a quarantine without a store refuses instead of losing mail.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import type { ReplayableAccept } from '@hermod/spool';
import type { SMTPServerSession } from 'smtp-server';
import {
  type AcceptDeps,
  type AcceptPipeline,
  acceptPipeline,
  type BodyScan,
  type Disposition,
  type ObservePhase,
  type QuarantineRequest,
  RecipientRoutes,
  smtpError,
} from '../src/index.js';

const message = 'From: a@example.test\r\nSubject: hi\r\n\r\nbody line\r\n';

// The pipeline's own Received field (its date and id change per message) reads as this in assertions.
const ourReceived = /Received: from client\.example [^\r]*\r\n(?:[ \t][^\r]*\r\n)*/;
const RECEIVED = 'Received: from test\r\n';

async function collectRaw(source: () => AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of source()) parts.push(b);
  return Buffer.concat(parts).toString('latin1');
}

const collect = async (source: () => AsyncIterable<Buffer>): Promise<string> =>
  (await collectRaw(source)).replace(ourReceived, RECEIVED);

function scanWith(disposition: Disposition, seen: Buffer[]): () => BodyScan {
  return () => ({
    write: async (chunk) => {
      seen.push(chunk);
    },
    disposition: async () => disposition,
    abort: () => {},
  });
}

async function deliver(
  hooks: Partial<AcceptPipeline<Disposition>> &
    Partial<Pick<AcceptDeps, 'accept' | 'refused'>> & { phases?: ObservePhase },
): Promise<{
  error: (Error & { responseCode?: number }) | null;
  reply?: string;
  accepted: string[];
  held: Array<QuarantineRequest & { text: string }>;
}> {
  const accepted: string[] = [];
  const held: Array<QuarantineRequest & { text: string }> = [];
  const { accept, phases, refused, ...pipeline } = hooks;
  const onData = acceptPipeline<Disposition>({
    service: 'mx',
    deps: {
      logger: silentLogger(),
      refused: refused ?? (() => {}),
      metrics: {
        messages: { inc: () => {} },
        acceptSeconds: { observe: () => {} },
        ...(phases ? { phases } : {}),
      },
      recipientRoutes: new RecipientRoutes(),
      accept:
        accept ??
        (async (input: ReplayableAccept) => {
          accepted.push(await collect(input.body as () => AsyncIterable<Buffer>));
        }),
    },
    hostname: 'mx.example.test',
    maxMessageBytes: 1024 * 1024,
    bareLineEndings: 'reject',
    ...pipeline,
  });
  const session = {
    id: 'session-1',
    remoteAddress: '192.0.2.1',
    hostNameAppearsAs: 'client.example',
    secure: false,
    envelope: {
      mailFrom: { address: 'a@example.test', args: {} },
      rcptTo: [{ address: 'b@example.test', args: {} }],
    },
  } as unknown as SMTPServerSession;
  const stream = Readable.from([Buffer.from(message)]);
  return new Promise((resolve) => {
    onData(stream as never, session, (error, reply) =>
      resolve({ error: error ?? null, reply: reply as string | undefined, accepted, held }),
    );
  });
}

const quarantineInto =
  (held: Array<QuarantineRequest & { text: string }>) =>
  async (request: QuarantineRequest): Promise<void> => {
    held.push({ ...request, text: await collect(request.body) });
  };

test('the scan sees every byte as spooled, and its accept fields go first', async () => {
  const seen: Buffer[] = [];
  const result = await deliver({ scan: scanWith({ action: 'accept', headers: 'X-Scan: clean\r\n' }, seen) });
  assert.equal(result.error, null);
  const spooled = Buffer.concat(seen).toString('latin1');
  assert.equal(spooled.replace(ourReceived, RECEIVED), `${RECEIVED}${message}`);
  assert.deepEqual(result.accepted, [`X-Scan: clean\r\n${RECEIVED}${message}`]);
});

test('the Received field put first names our host, the protocol and the spool id', async () => {
  let stored = '';
  const result = await deliver({
    accept: async (input) => {
      stored = await collectRaw(input.body as () => AsyncIterable<Buffer>);
    },
  });
  const spoolId = /queued as (\S+)/.exec(result.reply ?? '')?.[1];
  const received = ourReceived.exec(stored)?.[0] ?? '';
  assert.ok(spoolId);
  assert.match(
    received.replace(/\r\n[ \t]+/g, ' '),
    /^Received: from client\.example .* by mx\.example\.test \(Hermod\) with ESMTP id /,
  );
  assert.ok(received.includes(`id ${spoolId}`));
});

test('a refusing scan wins: 554 or 451, nothing accepted, the verdict never asked', async () => {
  let decided = false;
  const decide = async () => {
    decided = true;
    return { action: 'accept' } as Disposition;
  };
  const rejected = await deliver({
    scan: scanWith(
      { action: 'reject', code: 554, status: '5.7.1', text: 'malware found (X)', reason: 'malware' },
      [],
    ),
    decide,
  });
  assert.equal(rejected.error?.responseCode, 554);
  assert.match(rejected.error?.message ?? '', /^5\.7\.1 malware found \(X\)/);
  const deferred = await deliver({
    scan: scanWith(
      {
        action: 'tempfail',
        code: 451,
        status: '4.7.1',
        text: 'scanner unavailable',
        reason: 'malware-scanner',
      },
      [],
    ),
  });
  assert.equal(deferred.error?.responseCode, 451);
  assert.equal(rejected.accepted.length + deferred.accepted.length, 0);
  assert.equal(decided, false);
});

test('decideWhileScanning: the verdict is asked before the scan is awaited; a refusing scan still wins', async () => {
  const order: string[] = [];
  const scan = (disposition: Disposition) => (): BodyScan => ({
    write: async () => {},
    disposition: async () => {
      order.push('scan awaited');
      return disposition;
    },
    abort: () => {},
  });
  const decide = async (): Promise<Disposition> => {
    order.push('decide asked');
    return { action: 'accept', headers: 'X-Verdict: yes\r\n' };
  };
  const accepted = await deliver({
    scan: scan({ action: 'accept', headers: 'X-Scan: clean\r\n' }),
    decide,
    dispose: (v) => v,
    decideWhileScanning: true,
  });
  assert.equal(accepted.error, null);
  assert.deepEqual(order, ['decide asked', 'scan awaited']);
  assert.deepEqual(accepted.accepted, [
    `X-Scan: clean\r\nX-Verdict: yes\r\nReceived: from test\r\n${message}`,
  ]);

  // The scan refuses while the verdict refuses too (DMARC, say): the scan's reply, nothing unhandled.
  const refusing = async (): Promise<Disposition> => {
    throw smtpError(550, '5.7.1', 'DMARC policy');
  };
  const rejected = await deliver({
    scan: scan({
      action: 'reject',
      code: 554,
      status: '5.7.1',
      text: 'malware found (X)',
      reason: 'malware',
    }),
    decide: refusing,
    decideWhileScanning: true,
  });
  assert.equal(rejected.error?.responseCode, 554);
  // The scan accepts: the verdict's refusal is the reply.
  const refused = await deliver({
    scan: scan({ action: 'accept' }),
    decide: refusing,
    decideWhileScanning: true,
  });
  assert.equal(refused.error?.responseCode, 550);
  assert.equal(rejected.accepted.length + refused.accepted.length, 0);
});

test("the service's verdict may quarantine: held with every disposition's fields, answered 250", async () => {
  const held: Array<QuarantineRequest & { text: string }> = [];
  const result = await deliver({
    scan: scanWith({ action: 'accept', headers: 'X-Scan: clean\r\n' }, []),
    decide: async () => ({
      action: 'quarantine',
      kind: 'policy',
      reason: 'rule no-exe',
      rule: 'no-exe',
      headers: 'X-Rule: no-exe\r\n',
    }),
    dispose: (v) => v,
    quarantine: quarantineInto(held),
  });
  assert.equal(result.error, null);
  assert.match(result.reply ?? '', /^2\.0\.0 Ok: queued as /);
  assert.equal(result.accepted.length, 0);
  assert.equal(held.length, 1);
  assert.equal(held[0]?.kind, 'policy');
  assert.equal(held[0]?.rule, 'no-exe');
  assert.deepEqual(held[0]?.recipients, ['b@example.test']);
  assert.equal(held[0]?.text, `X-Scan: clean\r\nX-Rule: no-exe\r\nReceived: from test\r\n${message}`);
});

test('a quarantine disposition without a quarantine store refuses (554 5.7.1)', async () => {
  const result = await deliver({
    scan: scanWith({ action: 'quarantine', kind: 'malware', reason: 'malware X' }, []),
  });
  assert.equal(result.error?.responseCode, 554);
  assert.equal(result.accepted.length, 0);
});

test('the parts of DATA are observed in order, the commit once the accept resolved', async () => {
  const observed: string[] = [];
  let seenAtCommit: string[] = [];
  const result = await deliver({
    phases: (phase, seconds) => {
      assert.ok(seconds >= 0);
      observed.push(phase);
    },
    accept: async () => {
      seenAtCommit = [...observed];
    },
  });
  assert.equal(result.error, null);
  assert.deepEqual(seenAtCommit, ['receive', 'check', 'decide'], 'observed before the commit starts');
  assert.deepEqual(observed, ['receive', 'check', 'decide', 'commit']);
});

test('every content refusal is counted once, by reason and reply code; a verdict made moot by the scan is not', async () => {
  const counted: string[] = [];
  const refused = (_session: { id: string }, reason: string, details: { code: number }) => {
    counted.push(`${reason} ${details.code}`);
  };
  const scan = (disposition: Disposition) => (): BodyScan => ({
    write: async () => {},
    disposition: async () => disposition,
    abort: () => {},
  });
  const malware: Disposition = {
    action: 'reject',
    code: 554,
    status: '5.7.1',
    text: 'malware found (X)',
    reason: 'malware',
  };
  const scanner: Disposition = {
    action: 'tempfail',
    code: 451,
    status: '4.7.1',
    text: 'scanner unavailable',
    reason: 'malware-scanner',
  };
  const spam = async (): Promise<Disposition> => {
    throw smtpError(550, '5.7.1', 'spam', 'spam');
  };

  assert.equal((await deliver({ refused, scan: scan(malware) })).error?.responseCode, 554);
  assert.equal((await deliver({ refused, scan: scan(scanner) })).error?.responseCode, 451);
  // The verdict refuses too, but the scan's refusal is the reply: counted as malware only.
  const both = await deliver({ refused, scan: scan(malware), decide: spam, decideWhileScanning: true });
  assert.equal(both.error?.responseCode, 554);
  // The scan accepts: the verdict's refusal is the reply and is counted.
  const verdict = await deliver({
    refused,
    scan: scan({ action: 'accept' }),
    decide: spam,
    decideWhileScanning: true,
  });
  assert.equal(verdict.error?.responseCode, 550);
  // A disposition refusing for spam (msa's Rspamd check), and a quarantine where none is kept (msa).
  await deliver({ refused, decide: async () => ({ ...malware, reason: 'spam' }), dispose: (v) => v });
  await deliver({ refused, scan: scan({ action: 'quarantine', kind: 'policy', reason: 'held', rule: 'r' }) });
  assert.deepEqual(counted, [
    'malware 554',
    'malware-scanner 451',
    'malware 554',
    'spam 550',
    'spam 554',
    'policy 554',
  ]);
});
