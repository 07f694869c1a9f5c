import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { AccountStore, LoginGate, LoginThrottle, PostgresLoginFailureStore } from '@hermod/accounts';
import { createPool, migrate } from '@hermod/db';
import { freePort, PostgresCluster } from '@hermod/local-infra';
import { createLogger } from '@hermod/logging';
import { appendToMailbox, resolveMailbox, writeBody } from '@hermod/mail-store';
import { testWorkdir } from '@hermod/test/harness';
import { createCommandRegistry } from '../services/imap/src/commands/registry.js';
import { ChangeHub } from '../services/imap/src/change-hub.js';
import { ConnectionLimiter } from '../services/imap/src/server.js';
import { ImapSession } from '../services/imap/src/session/session.js';
import { MailBackend } from '../services/imap/src/store/mail-backend.js';
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const N = Number(process.argv[2] ?? 1000);
const dir = await testWorkdir('idle-mem');
const cluster = new PostgresCluster({ dataDir: join(dir, 'pg'), port: await freePort() });
await cluster.init();
await cluster.start();
const pool = createPool({ connectionString: await cluster.createDatabase('hermod'), max: 5 });
await migrate(pool);
const accounts = new AccountStore(pool);
const account = await accounts.create({ address: 'bench@example.com', password: 'bench-password-1' });
const client = await pool.connect();
const inbox = await resolveMailbox(client, account.id, 'INBOX');
for (let i = 0; i < 100; i++) {
  const body = await writeBody(client, [Buffer.from(`Subject: m${i}\r\n\r\nhello\r\n`)]);
  await appendToMailbox(client, { mailboxId: inbox.id, bodyId: body.bodyId, size: body.size, internalDate: new Date(), flags: [] });
}
client.release();
const logger = createLogger('imap', 'warn');
const hub = new ChangeHub(undefined, logger);
const backend = new MailBackend(pool, hub);
const deps = {
  backend, commands: createCommandRegistry(),
  limits: { maxLineLength: 65536, maxLiteralSize: 1e7, appendLimit: 1e7, metadataMaxSize: 65536, metadataMaxEntries: 100, maxNonSyncLiteral: 1e7, nestingBeforeLogin: 10, nestingAfterLogin: 100, idleTimeoutMs: 1800000, idleCommandTimeoutMs: 1800000, maxAuthFailures: 3, maxQueuedCommands: 64, notifyMaxQueue: 1000 },
  logger, serverTls: undefined,
  loginGuard: new LoginGate(accounts, new LoginThrottle(new PostgresLoginFailureStore(pool, () => {}), { threshold: 100, windowMs: 60000, lockoutMs: 60000, baseDelayMs: 0, maxDelayMs: 0 })),
  refused: () => {}, userGuard: new ConnectionLimiter(100000, 100000), allowPlaintextAuth: true, literalMinus: true, hostname: 'x', changes: hub,
};
const server = createServer((socket) => new ImapSession(socket, deps as never, { secure: false, remoteAddress: '127.0.0.1' }).start());
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
const child = spawn(process.execPath, ['-e', `
const net = require('net'); let ready = 0; const N = ${N}; const all = [];
function one(i) { return new Promise((res) => { const s = net.connect(${port}, '127.0.0.1'); all.push(s); let buf = ''; let step = 0;
  s.on('data', (d) => { buf += d; if (step === 0 && buf.includes('ready')) { step = 1; buf=''; s.write('a LOGIN bench@example.com bench-password-1\\r\\n'); }
    else if (step === 1 && buf.includes('a OK')) { step = 2; buf=''; s.write('b SELECT INBOX\\r\\n'); }
    else if (step === 2 && buf.includes('b OK')) { step = 3; buf=''; s.write('c IDLE\\r\\n'); }
    else if (step === 3 && buf.includes('+ idling')) { step = 4; buf=''; res(); } }); }); }
(async () => { for (let i = 0; i < N; i += 50) await Promise.all(Array.from({length: Math.min(50, N - i)}, (_, j) => one(i + j))); console.log('ready'); })();
`], { stdio: ['ignore', 'pipe', 'inherit'] });
const measure = () => { gc(); gc(); const h = process.memoryUsage(); return { heap: h.heapUsed, ext: h.external + h.arrayBuffers, rss: h.rss }; };
// warm: one session first
await new Promise((r) => setTimeout(r, 200));
const before = measure();
await new Promise<void>((r) => child.stdout.on('data', (d) => { if (String(d).includes('ready')) r(); }));
await new Promise((r) => setTimeout(r, 500));
const after = measure();
process.stdout.write(`per session: heap ${((after.heap - before.heap) / N / 1024).toFixed(2)} KiB, external ${((after.ext - before.ext) / N / 1024).toFixed(2)} KiB, rss ${((after.rss - before.rss) / N / 1024).toFixed(2)} KiB\n`);
if (process.argv[3]) writeHeapSnapshot(process.argv[3]);
child.kill();
await pool.end();
await cluster.stop();
await rm(dir, { recursive: true, force: true });
process.exit(0);
