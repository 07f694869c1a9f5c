// Shared set-up for the imap service's integration tests: PostgreSQL, nats-server, a TLS pair,
// the service as a child process, accounts, and a raw protocol client for conformance checks.
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before } from 'node:test';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { AccountStore } from '@hermod/accounts';
import { withTransaction } from '@hermod/db';
import { ensureSelfSignedCertificate, freePort, NodeServiceProcess } from '@hermod/local-infra';
import { appendToMailbox, resolveMailbox, writeBody } from '@hermod/mail-store';
import { mailboxEventSubject } from '@hermod/pipeline';
import { connect as connectNats, type NatsConnection } from 'nats';
import {
  startTestNats,
  type TestDatabase,
  type TestNats,
  testDatabase,
  testWorkdir,
} from '../../harness/index.js';
import { LITERAL, type ReceivedResponse, ResponseChecker } from './response-checker.js';

export interface ImapService {
  process: NodeServiceProcess;
  imapPort: number;
  imapsPort: number;
  pop3Port: number;
  pop3sPort: number;
  managesievePort: number;
  opsPort: number;
}

export interface ImapFixture {
  db: TestDatabase;
  nats: TestNats;
  bus: NatsConnection;
  accounts: AccountStore;
  certDir: string;
  service: ImapService;
  startReplica(env?: Record<string, string>): Promise<ImapService>;
  createUser(address: string, password?: string): Promise<number>;
  deliver(
    accountId: number,
    message: string | Buffer,
    options?: { mailbox?: string; flags?: string[]; date?: Date },
  ): Promise<number>;
  close(): Promise<void>;
}

export const PASSWORD = 'correct horse battery';

export async function startImapFixture(env: Record<string, string> = {}): Promise<ImapFixture> {
  const db = await testDatabase();
  const nats = await startTestNats();
  const bus = await connectNats({ servers: nats.url });
  const certDir = await testWorkdir('imap-tls');
  const { certFile, keyFile } = await ensureSelfSignedCertificate(certDir);
  const replicas: ImapService[] = [];
  const startReplica = async (extra: Record<string, string> = {}): Promise<ImapService> => {
    // A free port can be taken by another process before the service binds it: try fresh ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(extra);
      } catch (error) {
        if (attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
      }
    }
  };
  const startOnce = async (extra: Record<string, string>): Promise<ImapService> => {
    const [imapPort, imapsPort, pop3Port, pop3sPort, managesievePort, opsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const process = new NodeServiceProcess({
      service: 'imap',
      opsPort,
      env: {
        DATABASE_URL: db.url,
        NATS_URL: nats.url,
        IMAP_HOST: '127.0.0.1',
        OPS_HOST: '127.0.0.1',
        IMAP_PORT: String(imapPort),
        IMAPS_PORT: String(imapsPort),
        POP3_PORT: String(pop3Port),
        POP3S_PORT: String(pop3sPort),
        MANAGESIEVE_PORT: String(managesievePort),
        TLS_CERT_FILE: certFile,
        TLS_KEY_FILE: keyFile,
        LOG_LEVEL: 'warn',
        AUTH_FAILURE_BASE_DELAY_MS: '50',
        AUTH_FAILURE_MAX_DELAY_MS: '200',
        SHUTDOWN_GRACE_MS: '3000',
        ...env,
        ...extra,
      },
    });
    // A cold start (tsx compiling the service) on a busy 2-core machine can exceed the default 30 s.
    try {
      await process.start(60_000);
    } catch (error) {
      // A replica that never became ready must not outlive the test file (it would keep it running).
      await process.stop().catch(() => {});
      throw error;
    }
    const service = { process, imapPort, imapsPort, pop3Port, pop3sPort, managesievePort, opsPort };
    replicas.push(service);
    return service;
  };
  const closeAll = async () => {
    for (const r of replicas) await r.process.stop();
    await bus.close();
    await nats.stop();
    await db.close();
    // Every raw response of the file was checked against the grammar and the session rules.
    const violations = responseViolations.splice(0);
    if (violations.length > 0)
      throw new Error(
        `${violations.length} IMAP response violations:\n${violations.slice(0, 20).join('\n')}`,
      );
  };
  let service: ImapService;
  try {
    service = await startReplica();
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
  const accounts = new AccountStore(db.pool);
  return {
    db,
    nats,
    bus,
    accounts,
    certDir,
    service,
    startReplica,
    async createUser(address, password = PASSWORD) {
      return (await accounts.create({ address, password })).id;
    },
    async deliver(accountId, message, options = {}) {
      const bytes = typeof message === 'string' ? Buffer.from(message.replace(/\r?\n/g, '\r\n')) : message;
      const result = await withTransaction(db.pool, async (client) => {
        const box = await resolveMailbox(client, accountId, options.mailbox ?? 'INBOX');
        const body = await writeBody(client, [bytes]);
        return appendToMailbox(client, {
          mailboxId: box.id,
          bodyId: body.bodyId,
          size: body.size,
          internalDate: options.date ?? new Date(),
          flags: options.flags ?? [],
        });
      });
      bus.publish(
        mailboxEventSubject(accountId),
        JSON.stringify({
          accountId,
          mailboxId: result.mailboxId,
          kind: 'exists',
          uids: [result.uid],
          modseq: result.modseq,
        }),
      );
      return result.uid;
    },
    close: closeAll,
  };
}

/** Every response a RawImapClient received that broke the grammar or a session rule. */
export const responseViolations: string[] = [];

/** A minimal IMAP client speaking raw protocol lines, for conformance tests. */
export class RawImapClient {
  /** Checks each response against the RFC grammar and the session's rules (response-checker.ts). */
  readonly checker = new ResponseChecker(responseViolations);
  private buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  private tagCounter = 0;
  closed = false;

  private constructor(public socket: Socket | TLSSocket) {
    this.bind(socket);
  }

  private bind(socket: Socket | TLSSocket) {
    socket.on('data', (data: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      this.parse();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, tls: boolean): Promise<RawImapClient> {
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s = tls
        ? connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
        : connectTcp({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    return new RawImapClient(socket);
  }

  /** Upgrades after a STARTTLS OK. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    this.buffer = Buffer.alloc(0);
    this.socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.bind(this.socket);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // Collects complete response lines; literals are inlined into their line.
  private parse() {
    for (;;) {
      let offset = 0;
      let text = '';
      const checked: ReceivedResponse = { text: '', literals: [] };
      let complete = false;
      while (offset < this.buffer.length) {
        const lf = this.buffer.indexOf(0x0a, offset);
        if (lf < 0) break;
        const raw = this.buffer.subarray(offset, lf + 1);
        const line = raw.toString('utf8');
        const m = /(~?)\{(\d+)\}\r\n$/.exec(line);
        if (m) {
          const n = Number(m[2]);
          if (this.buffer.length < lf + 1 + n) break;
          const bytes = this.buffer.subarray(lf + 1, lf + 1 + n);
          text += line + bytes.toString('utf8');
          const head = raw.toString('latin1');
          checked.text += head.slice(0, head.length - m[0].length) + LITERAL;
          checked.literals.push({ bytes: Buffer.from(bytes), eight: m[1] === '~' });
          offset = lf + 1 + n;
          continue;
        }
        text += line.replace(/\r\n$/, '');
        checked.text += raw.toString('latin1').replace(/\r?\n$/, '');
        offset = lf + 1;
        complete = true;
        break;
      }
      if (!complete) return;
      this.buffer = this.buffer.subarray(offset);
      this.checker.received(checked);
      this.lines.push(text);
      this.wake();
    }
  }

  async readLine(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a response line');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift()!;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a tagged command; resolves with the untagged lines and the tagged completion. */
  async command(
    text: string,
    timeoutMs = 10_000,
  ): Promise<{ untagged: string[]; tagged: string; status: string }> {
    const tag = `t${++this.tagCounter}`;
    this.checker.sent(tag, text);
    this.send(`${tag} ${text}\r\n`);
    return this.until(tag, timeoutMs);
  }

  async until(tag: string, timeoutMs = 10_000) {
    const untagged: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line.startsWith(`${tag} `)) return { untagged, tagged: line, status: line.split(' ')[1]! };
      untagged.push(line);
    }
  }

  async login(user: string, password = PASSWORD) {
    const r = await this.command(`LOGIN ${user} "${password}"`);
    if (r.status !== 'OK') throw new Error(`login failed: ${r.tagged}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A test file of raw-protocol conformance tests: starts the fixture before its tests and closes it,
 * and every raw session opened, after them. `account(address)` makes a fresh account (one per test,
 * so message numbers are the test's own) with a way to open logged-in sessions of it on the
 * implicit-TLS port (or another replica's).
 */
export function rawImapFile(env: Record<string, string> = {}) {
  let fixture: ImapFixture | undefined;
  const clients: RawImapClient[] = [];
  before(async () => {
    fixture = await startImapFixture(env);
  });
  after(async () => {
    for (const c of clients) c.close();
    await fixture?.close();
  });
  const file = {
    clients,
    get fx(): ImapFixture {
      if (!fixture) throw new Error('the IMAP fixture is not started');
      return fixture;
    },
    async account(address: string, port = () => file.fx.service.imapsPort) {
      const id = await file.fx.createUser(address);
      const connect = async () => {
        const raw = await RawImapClient.connect(port(), true);
        clients.push(raw);
        await raw.readLine();
        await raw.login(address);
        return raw;
      };
      return { id, connect };
    },
  };
  return file;
}
