// OpenTelemetry across services: msa, routing and mda export spans over OTLP/HTTP to a collector on
// loopback (this test), and one submitted message makes one trace: msa.accept, then routing.route
// (its child, through the NATS job's traceparent), then mda.deliver (routing's child). Each service
// names itself (hermod-msa, ...).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type HermodPlatform, requireTool, run, startHermod } from '@hermod/test/harness';

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  spoolId?: string;
}

type OtlpJson = {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{
      spans?: Array<{
        name: string;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        attributes?: Array<{ key: string; value: { stringValue?: string } }>;
      }>;
    }>;
  }>;
};

const spans: ExportedSpan[] = [];
let collector: Server;
let hermod: HermodPlatform;

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  collector = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as OtlpJson;
        for (const rs of body.resourceSpans ?? []) {
          const service =
            rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? []) {
              const spoolId = s.attributes?.find((a) => a.key === 'hermod.spool_id')?.value.stringValue;
              spans.push({
                service,
                name: s.name,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                ...(spoolId ? { spoolId } : {}),
              });
            }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const telemetry = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    commonEnv: telemetry,
    env: { msa: { MSA_TRUSTED_NETWORKS: '127.0.0.1/32' } },
  });
  await hermod.addDomain('trace.test');
  await new AccountStore(hermod.db.pool).create({ address: 'tess@trace.test', password: 'tess-password' });
});

after(async () => {
  await hermod?.stop();
  collector?.close();
});

test('one message, one trace: msa.accept -> routing.route -> mda.deliver', async () => {
  const sent = await run(
    'swaks',
    [
      ...['--server', '127.0.0.1', '--port', String(hermod.ports.submission), '--helo', 'client.test'],
      ...['--from', 'tess@trace.test', '--to', 'tess@trace.test', '--timeout', '20'],
    ],
    { timeoutMs: 30_000 },
  );
  const spoolId = /queued as ([0-9a-f-]{36})/.exec(sent.stdout)?.[1];
  assert.ok(spoolId, `no spool id in swaks output:\n${sent.stdout}${sent.stderr}`);
  const deadline = Date.now() + 20_000;
  const find = (name: string) => spans.find((s) => s.name === name && s.spoolId === spoolId);
  while (!(find('msa.accept') && find('routing.route') && find('mda.deliver')) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  const accept = find('msa.accept');
  const route = find('routing.route');
  const deliver = find('mda.deliver');
  assert.ok(accept && route && deliver, `spans for ${spoolId}: ${JSON.stringify(spans, null, 1)}`);
  assert.equal(route.traceId, accept.traceId, 'routing joined the accept trace');
  assert.equal(deliver.traceId, accept.traceId, 'mda joined the accept trace');
  assert.equal(route.parentSpanId, accept.spanId);
  assert.equal(deliver.parentSpanId, route.spanId);
  assert.deepEqual(
    [accept.service, route.service, deliver.service],
    ['hermod-msa', 'hermod-routing', 'hermod-mda'],
  );
});
