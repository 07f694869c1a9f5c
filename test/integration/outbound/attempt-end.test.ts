// Every attempt the dispatcher leases ends (services/outbound-mta/src/delivery/attempt.ts), even when
// the connection loop itself throws: here the TLS report store throws while the dispatcher reports a
// remote that offers no STARTTLS to a domain that requires TLS. Before, the attempt was neither
// pending nor concluded: its lease was renewed for as long as the process lived and the recipient
// was never tried again nor held. Now the fault of ours holds it, visibly.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import type { DomainConfigValue } from '@hermod/domain-config';
import { createLogger } from '@hermod/logging';
import { acceptMessage, markRouted } from '@hermod/spool';
import { eventually, type TestDatabase, testDatabase } from '@hermod/test/harness';
import { Registry } from 'prom-client';
import { loadReplyClassifier } from '../../../services/outbound-mta/src/delivery/classify.js';
import { Dispatcher } from '../../../services/outbound-mta/src/delivery/dispatcher.js';
import type { DnsResolver } from '../../../services/outbound-mta/src/dns/resolve-destination.js';
import { createOutboundMetrics } from '../../../services/outbound-mta/src/metrics.js';
import { enqueueRecipients } from '../../../services/outbound-mta/src/queue/enqueue.js';
import { MtaStsCache } from '../../../services/outbound-mta/src/tls/mta-sts.js';

let db: TestDatabase;
let server: Server;
let port = 0;

before(async () => {
  db = await testDatabase();
  // A remote that offers no STARTTLS.
  server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-plain.test\r\n250 8BITMIME\r\n');
        else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.write('220 plain.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  server?.close();
  await db?.close();
});

test('an attempt ends when reporting its TLS failure throws: held, not leased for ever', async () => {
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'alice@hermod.test',
    recipients: [{ address: 'bob@tls-required.test' }],
    source: 'msa',
    body: [Buffer.from('Subject: tls\r\n\r\nhello\r\n')],
  });
  await markRouted(
    db.pool,
    [
      {
        spoolId,
        rcptIndex: 0,
        state: 'outbound',
        destination: { kind: 'remote', domain: 'tls-required.test' },
      },
    ],
    [spoolId],
  );
  assert.equal(await enqueueRecipients(db.pool, spoolId, [0], 86_400_000), 1);
  const resolver: DnsResolver = {
    resolveMx: async () => [{ exchange: 'mx.tls-required.test', priority: 10 }],
    resolve4: async () => ['127.0.0.1'],
    resolve6: async () => [],
    resolveTxt: async () => [],
  };
  const logger = createLogger('attempt-end', 'silent');
  const dispatcher = new Dispatcher({
    pool: db.pool,
    logger,
    resolver,
    domainConfig: () => ({ tls: { requireOutbound: true, mtaSts: 'none' } }) as unknown as DomainConfigValue,
    dkimKey: async () => undefined,
    mtaSts: new MtaStsCache(resolver, async () => {
      throw new Error('no MTA-STS here');
    }),
    tlsSessions: {
      record: () => {
        throw new Error('the TLS report store is broken');
      },
    },
    classify: loadReplyClassifier(),
    metrics: createOutboundMetrics(new Registry(), db.pool),
    finish: {
      pool: db.pool,
      logger,
      reportingMta: 'mx.hermod.test',
      retryScheduleMs: [60_000],
      delayNoticeAfterMs: Number.POSITIVE_INFINITY,
      dsn: { pool: db.pool, publishRouting: async () => {} },
    },
    settings: {
      owner: 'attempt-end-test',
      heloName: 'mx.hermod.test',
      smtpPort: port,
      concurrency: 2,
      destinationConcurrency: 1,
      messagesPerConnection: 10,
      leaseMs: 30_000,
      pollIntervalMs: 200,
      connectTimeoutMs: 5_000,
      greetingTimeoutMs: 5_000,
      commandTimeoutMs: 5_000,
      finalDotTimeoutMs: 5_000,
    },
  });
  dispatcher.start();
  try {
    const row = await eventually('the attempt to end', async () => {
      const { rows } = await db.pool.query<{
        state: string;
        lease_owner: string | null;
        last_reply: string | null;
      }>('SELECT state, lease_owner, last_reply FROM outbound_queue WHERE spool_id = $1', [spoolId]);
      return rows[0]?.state === 'held' ? rows[0] : undefined;
    });
    assert.equal(row.lease_owner, null);
    assert.match(row.last_reply ?? '', /TLS report store is broken/);
  } finally {
    await dispatcher.stop();
  }
});
