// OpenTelemetry across services: msa, routing and mda export spans over OTLP/HTTP to a collector on
// loopback (this test), and one submitted message makes one trace: msa.accept, then routing.route
// (its child, through the NATS job's traceparent) when routing has something to decide, then
// mda.deliver (the previous span's child). Each service
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
  await hermod.addDomain('trace.test', {
    aliases: [{ source: 'team', destinations: ['tess@trace.test', 'theo@trace.test'] }],
  });
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'tess@trace.test', password: 'tess-password' });
  await accounts.create({ address: 'theo@trace.test', password: 'theo-password' });
});

after(async () => {
  await hermod?.stop();
  collector?.close();
});

async function submit(to: string): Promise<string> {
  const sent = await run(
    'swaks',
    [
      ...['--server', '127.0.0.1', '--port', String(hermod.ports.submission), '--helo', 'client.test'],
      ...['--from', 'tess@trace.test', '--to', to, '--timeout', '20'],
    ],
    { timeoutMs: 30_000 },
  );
  const spoolId = /queued as ([0-9a-f-]{36})/.exec(sent.stdout)?.[1];
  assert.ok(spoolId, `no spool id in swaks output:\n${sent.stdout}${sent.stderr}`);
  return spoolId;
}

async function spansOf(spoolId: string, names: string[]): Promise<ExportedSpan[]> {
  const deadline = Date.now() + 20_000;
  const find = (name: string) => spans.find((s) => s.name === name && s.spoolId === spoolId);
  while (names.some((n) => !find(n)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const found = names.map(find);
  assert.ok(
    found.every((s) => s !== undefined),
    `spans ${names.join(', ')} for ${spoolId}: ${JSON.stringify(spans, null, 1)}`,
  );
  return found as ExportedSpan[];
}

test('a message routed at accept (one local mailbox): msa.accept -> mda.deliver, one trace', async () => {
  const spoolId = await submit('tess@trace.test');
  const [accept, deliver] = await spansOf(spoolId, ['msa.accept', 'mda.deliver']);
  assert.equal(deliver!.traceId, accept!.traceId, 'mda joined the accept trace');
  assert.equal(deliver!.parentSpanId, accept!.spanId);
  assert.deepEqual([accept!.service, deliver!.service], ['hermod-msa', 'hermod-mda']);
  // routing had nothing to decide for it: a later message that routing does expand gets its
  // routing.route span, and this one still has none.
  const marker = await submit('team@trace.test');
  await spansOf(marker, ['routing.route']);
  assert.equal(
    spans.find((s) => s.name === 'routing.route' && s.spoolId === spoolId),
    undefined,
  );
});

test('a message routing expands (alias to two mailboxes): msa.accept -> routing.route -> mda.deliver', async () => {
  const spoolId = await submit('team@trace.test');
  const [accept, route, deliver] = await spansOf(spoolId, ['msa.accept', 'routing.route', 'mda.deliver']);
  assert.equal(route!.traceId, accept!.traceId, 'routing joined the accept trace');
  assert.equal(deliver!.traceId, accept!.traceId, 'mda joined the accept trace');
  assert.equal(route!.parentSpanId, accept!.spanId);
  assert.equal(deliver!.parentSpanId, route!.spanId);
  assert.deepEqual(
    [accept!.service, route!.service, deliver!.service],
    ['hermod-msa', 'hermod-routing', 'hermod-mda'],
  );
});
