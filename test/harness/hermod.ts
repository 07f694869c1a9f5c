import { join } from 'node:path';
import { DOMAIN_BUCKET, openDomainBucket, parseDomainConfig, writeDomainConfig } from '@hermod/domain-config';
import { ensureSelfSignedCertificate, freePort, NodeServiceProcess } from '@hermod/local-infra';
import { connect, type NatsConnection } from 'nats';
import { type TestDatabase, testDatabase } from './database.js';
import { eventually } from './eventually.js';
import { startTestNats, type TestNats } from './nats.js';
import { testWorkdir } from './workdir.js';

export type ServiceName = 'routing' | 'mda' | 'msa' | 'imap' | 'mx' | 'outbound-mta';

/** The ports a test talks to; 0 when that service is not running. */
export interface HermodPorts {
  submission: number;
  submissions: number;
  routingGrpc: number;
  /** routing's plain-HTTP MTA-STS policy listener. */
  mtaSts: number;
  imap: number;
  imaps: number;
  pop3: number;
  pop3s: number;
  managesieve: number;
  mx: number;
}

export interface HermodPlatform {
  db: TestDatabase;
  nats: TestNats;
  nc: NatsConnection;
  ports: HermodPorts;
  tls: { certFile: string; keyFile: string };
  services: Map<ServiceName, NodeServiceProcess>;
  /**
   * Starts another replica of a running service over the same database and NATS, with the given
   * environment on top (its own ports); stopped with the platform.
   */
  startReplica(name: ServiceName, env: Record<string, string>): Promise<NodeServiceProcess>;
  /** Writes a domain into the live config bucket (as `hermod domain add` does). */
  addDomain(domain: string, settings?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Waits until every watcher of the domain bucket (each service's DomainConfigStore reads it through
 * a consumer of the bucket's stream) has been sent the bucket's last write: the positive signal that
 * a config change has reached the services, instead of a fixed pause.
 */
export async function domainWatchersCaughtUp(nc: NatsConnection, timeoutMs = 15_000): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const stream = `KV_${DOMAIN_BUCKET}`;
  const last = (await jsm.streams.info(stream)).state.last_seq;
  await eventually(
    `every watcher of ${DOMAIN_BUCKET} to receive write ${last}`,
    async () => {
      // Only consumers with a subscriber bound: a finished key listing leaves one behind for a while.
      const watchers = (await jsm.consumers.list(stream).next()).filter((c) => c.push_bound);
      return watchers.every((c) => c.delivered.stream_seq >= last) ? true : undefined;
    },
    timeoutMs,
  );
}

/**
 * Real Hermod services as processes for one test file, over a fresh database and nats-server,
 * started in dependency order. Extra environment per service may be given.
 */
export async function startHermod(options: {
  services: ServiceName[];
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  commonEnv?: Record<string, string>;
  /** A database and nats-server the test controls (to kill them); by default fresh ones. */
  db?: TestDatabase;
  nats?: TestNats;
  /** Node's arguments per service instead of tsx and the TypeScript entry (benches run bundles). */
  commands?: Partial<Record<ServiceName, string[]>>;
}): Promise<HermodPlatform> {
  const db = options.db ?? (await testDatabase());
  const nats = options.nats ?? (await startTestNats());
  const tls = await ensureSelfSignedCertificate(join(await testWorkdir('tls'), 'cert'));
  const ports: HermodPorts = {
    submission: await freePort(),
    submissions: await freePort(),
    routingGrpc: await freePort(),
    mtaSts: await freePort(),
    imap: await freePort(),
    imaps: await freePort(),
    pop3: await freePort(),
    pop3s: await freePort(),
    managesieve: await freePort(),
    mx: await freePort(),
  };
  const common = {
    DATABASE_URL: db.url,
    NATS_URL: nats.url,
    ROUTING_GRPC_ADDRESS: `127.0.0.1:${ports.routingGrpc}`,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
    OPS_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.HERMOD_TEST_LOG_LEVEL ?? 'warn',
    SHUTDOWN_GRACE_MS: '5000',
    ...options.commonEnv,
  };
  const perService: Record<ServiceName, Record<string, string>> = {
    routing: {
      ROUTING_GRPC_HOST: '127.0.0.1',
      ROUTING_GRPC_PORT: String(ports.routingGrpc),
      ROUTING_MTA_STS_HOST: '127.0.0.1',
      ROUTING_MTA_STS_PORT: String(ports.mtaSts),
    },
    mda: {},
    msa: {
      MSA_HOST: '127.0.0.1',
      MSA_SUBMISSION_PORT: String(ports.submission),
      MSA_SUBMISSIONS_PORT: String(ports.submissions),
      MSA_HOSTNAME: 'mail.hermod.test',
    },
    imap: {
      IMAP_HOST: '127.0.0.1',
      IMAP_PORT: String(ports.imap),
      IMAPS_PORT: String(ports.imaps),
      POP3_PORT: String(ports.pop3),
      POP3S_PORT: String(ports.pop3s),
      MANAGESIEVE_PORT: String(ports.managesieve),
    },
    mx: { MX_HOST: '127.0.0.1', MX_SMTP_PORT: String(ports.mx), MX_HOSTNAME: 'mx.hermod.test' },
    'outbound-mta': { OUTBOUND_HELO_NAME: 'mail.hermod.test' },
  };
  const order: ServiceName[] = ['routing', 'mda', 'outbound-mta', 'imap', 'msa', 'mx'];
  const services = new Map<ServiceName, NodeServiceProcess>();
  const replicas: NodeServiceProcess[] = [];
  const nc = await connect({ servers: nats.url });
  const platform: HermodPlatform = {
    db,
    nats,
    nc,
    ports,
    tls,
    services,
    async startReplica(name, env) {
      const first = services.get(name);
      if (!first) throw new Error(`${name} is not running`);
      const replica = new NodeServiceProcess({
        service: name,
        opsPort: await freePort(),
        env: { ...first.options.env, ...env },
        ...(first.options.command ? { command: first.options.command } : {}),
      });
      replicas.push(replica);
      await replica.start(60_000);
      return replica;
    },
    async addDomain(domain, settings = {}) {
      const kv = await openDomainBucket(nc.jetstream());
      await writeDomainConfig(kv, parseDomainConfig({ domain, exchanger: 'local', ...settings }));
      await domainWatchersCaughtUp(nc);
    },
    async stop() {
      for (const replica of replicas) await replica.stop();
      for (const name of [...order].reverse()) await services.get(name)?.stop();
      await nc.close();
      await nats.stop();
      await db.close();
    },
  };
  try {
    for (const name of order.filter((n) => options.services.includes(n))) {
      const proc = new NodeServiceProcess({
        service: name,
        opsPort: await freePort(),
        env: { ...common, ...perService[name], ...options.env?.[name] },
        ...(options.commands?.[name] ? { command: options.commands[name] } : {}),
      });
      await proc.start(60_000);
      services.set(name, proc);
    }
  } catch (error) {
    await platform.stop().catch(() => {});
    throw error;
  }
  return platform;
}
