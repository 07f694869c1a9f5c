// Shared set-up of the outbound-mta integration tests: real routing, mda and outbound-mta processes
// over a fresh PostgreSQL and nats-server, a real DNS server on loopback that the outbound MTA
// resolves through, and helpers to inject mail, watch the queue and read local mailboxes.
import { generateKeyPairSync } from 'node:crypto';
import { AccountStore } from '@hermod/accounts';
import { openDkimKeyBucket, writeDkimKey } from '@hermod/domain-config';
import { freePort, NodeServiceProcess } from '@hermod/local-infra';
import { publishJob } from '@hermod/nats';
import { subjects } from '@hermod/pipeline';
import { acceptMessage } from '@hermod/spool';
import {
  DnsTestServer,
  type HermodPlatform,
  inboxMessages,
  type ServiceName,
  startHermod,
} from '@hermod/test/harness';

/** The local domain our test users send from. */
export const LOCAL_DOMAIN = 'hermod.test';
/** The password of every account made with addAccount. */
export const TEST_PASSWORD = 'outbound-test-password';

export interface QueueRow {
  rcpt_index: number;
  state: string;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_reply: string | null;
  last_host: string | null;
  last_tls: string | null;
  lease_owner: string | null;
}

export interface RecipientRow {
  rcpt_index: number;
  address: string;
  state: string;
  error: string | null;
  destination: { outcome?: { reply?: string; host?: string; tls?: string; status?: string } } | null;
}

export interface OutboundTestbed {
  hermod: HermodPlatform;
  dns: DnsTestServer;
  /** The port every remote MX is contacted on (peers listen on different loopback addresses). */
  smtpPort: number;
  /** Accepts a message into the spool as a local submission and hands it to routing. */
  /** Spools a message as msa would; `envelope` as msa records it (mailFromArgs such as REQUIRETLS). */
  submit(
    from: string,
    /** Addresses, or addresses with their RCPT parameters as msa stores them (NOTIFY, ORCPT). */
    to: Array<string | { address: string; parameters: Record<string, string> }>,
    body: string | Buffer,
    envelope?: Record<string, unknown>,
  ): Promise<string>;
  recipients(spoolId: string): Promise<RecipientRow[]>;
  /** Waits until every recipient of the message is in `state` (fails early on another final state). */
  settled(spoolId: string, state: 'delivered' | 'failed', timeoutMs?: number): Promise<RecipientRow[]>;
  queue(spoolId: string): Promise<QueueRow[]>;
  /** Stored INBOX messages of a local account (raw text). */
  mailbox(address: string): Promise<string[]>;
  addAccount(address: string): Promise<void>;
  /** A DKIM key for a local domain: private key in the key bucket, public key in DNS, domain config. */
  enableDkim(domain: string, selector: string): Promise<void>;
  /**
   * Restarts outbound-mta (SIGTERM, or SIGKILL with kill) with the same environment plus `env`,
   * running `whileStopped` between the two.
   */
  restartOutbound(options?: {
    kill?: boolean;
    env?: Record<string, string>;
    whileStopped?: () => Promise<void>;
  }): Promise<void>;
  outbound(): NodeServiceProcess;
  stop(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The first attempt of a message was deferred (its recipient still outbound); returns the queue row. */
export async function firstAttemptDeferred(bed: OutboundTestbed, spoolId: string): Promise<QueueRow> {
  const [row] = await waitFor(`the first attempt of ${spoolId} deferred`, async () => {
    const rows = await bed.queue(spoolId);
    return rows[0] && rows[0].attempts >= 1 ? rows : undefined;
  });
  if (row?.state !== 'deferred') throw new Error(`${spoolId} is ${row?.state}, not deferred`);
  const recipient = (await bed.recipients(spoolId))[0];
  if (recipient?.state !== 'outbound') throw new Error(`${spoolId}'s recipient is ${recipient?.state}`);
  return row;
}

/** CRLF lines joined: the message as a client hands it over. */
export const crlf = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;

/** A short text message from `from` to `to` whose body names its subject. */
export const simpleMessage = (from: string, to: string, subject: string) =>
  crlf(`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`);

/** `mx.<domain>` as the one MX of `domain`, at `address`. */
export function addMx(dns: DnsTestServer, domain: string, address: string): void {
  dns.add(
    { type: 'MX', name: domain, exchange: `mx.${domain}`, preference: 10 },
    { type: 'A', name: `mx.${domain}`, address },
  );
}

export async function startOutboundTestbed(
  options: {
    services?: ServiceName[];
    outboundEnv?: Record<string, string>;
    env?: Partial<Record<ServiceName, Record<string, string>>>;
    /** Where the DNS server listens (default: a free port on 127.0.0.1). */
    dns?: { host: string; port: number };
    /** The port remote MX hosts are contacted on (default: a free one). */
    smtpPort?: number;
  } = {},
): Promise<OutboundTestbed> {
  const dns = new DnsTestServer();
  await dns.start(options.dns?.port ?? 0, options.dns?.host);
  const smtpPort = options.smtpPort ?? (await freePort());
  const hermod = await startHermod({
    services: options.services ?? ['routing', 'mda', 'outbound-mta'],
    env: {
      ...options.env,
      'outbound-mta': {
        OUTBOUND_DNS_SERVERS: dns.address,
        OUTBOUND_SMTP_PORT: String(smtpPort),
        OUTBOUND_RETRY_SCHEDULE: '2s',
        OUTBOUND_POLL_INTERVAL: '250ms',
        OUTBOUND_CONNECT_TIMEOUT: '5s',
        OUTBOUND_COMMAND_TIMEOUT: '20s',
        OUTBOUND_LEASE: '30s',
        ...options.outboundEnv,
      },
    },
  }).catch(async (error: unknown) => {
    await dns.stop();
    throw error;
  });
  await hermod.addDomain(LOCAL_DOMAIN);
  const pool = hermod.db.pool;
  const accounts = new AccountStore(pool);
  const js = hermod.nc.jetstream();

  const testbed: OutboundTestbed = {
    hermod,
    dns,
    smtpPort,
    async submit(from, to, body, envelope) {
      const { spoolId } = await acceptMessage(pool, {
        mailFrom: from,
        recipients: to.map((r) => (typeof r === 'string' ? { address: r } : r)),
        source: 'msa',
        ...(envelope ? { envelope } : {}),
        body: [Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')],
      });
      await publishJob(js, subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` });
      return spoolId;
    },
    async recipients(spoolId) {
      const { rows } = await pool.query<RecipientRow>(
        `SELECT rcpt_index, address, state, last_error AS error, destination FROM spool_recipients
         WHERE spool_id = $1 ORDER BY rcpt_index`,
        [spoolId],
      );
      return rows;
    },
    settled(spoolId, state, timeoutMs = 20_000) {
      return waitFor(
        `every recipient of ${spoolId} ${state}`,
        async () => {
          const rows = await testbed.recipients(spoolId);
          const other = rows.find(
            (r) => (r.state === 'delivered' || r.state === 'failed') && r.state !== state,
          );
          if (other) throw new Error(`${other.address} ${other.state}: ${other.error ?? ''}`);
          return rows.length > 0 && rows.every((r) => r.state === state) ? rows : undefined;
        },
        timeoutMs,
      );
    },
    async queue(spoolId) {
      const { rows } = await pool.query<QueueRow>(
        `SELECT rcpt_index, state, attempts, next_attempt_at, last_attempt_at, last_reply, last_host, last_tls, lease_owner
         FROM outbound_queue WHERE spool_id = $1 ORDER BY rcpt_index`,
        [spoolId],
      );
      return rows;
    },
    mailbox: (address) => inboxMessages(pool, address),
    async addAccount(address) {
      await accounts.create({ address, password: TEST_PASSWORD });
    },
    async enableDkim(domain, selector) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      await writeDkimKey(await openDkimKeyBucket(js), {
        domain,
        selector,
        algorithm: 'rsa-sha256',
        privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicKey,
        createdAt: new Date().toISOString(),
      });
      dns.add({
        type: 'TXT',
        name: `${selector}._domainkey.${domain}`,
        text: `v=DKIM1; k=rsa; p=${publicKey}`,
      });
      await hermod.addDomain(domain, { dkim: { selector, keyRef: `${domain}.${selector}` } });
    },
    outbound() {
      const proc = hermod.services.get('outbound-mta');
      if (!proc) throw new Error('outbound-mta is not running in this testbed');
      return proc;
    },
    async restartOutbound({ kill = false, env = {}, whileStopped } = {}) {
      const old = testbed.outbound();
      if (kill) await old.kill();
      else await old.stop();
      await whileStopped?.();
      const proc = new NodeServiceProcess({ ...old.options, env: { ...old.options.env, ...env } });
      await proc.start(60_000);
      hermod.services.set('outbound-mta', proc);
    },
    async stop() {
      await hermod.stop();
      await dns.stop();
    },
  };
  return testbed;
}
