// The MX under load, as the benches that compare two settings of it side by side set it up:
// routing, mda and mx on one platform, mx checking SPF/DKIM/DMARC/ARC against a DNS server on
// loopback (client.test: an SPF record for 127.0.0.1 and a DMARC record), no rate or connection
// limits, one mailbox (box@bench.test), and smtp-source as the load (4 KiB, 20 sessions).
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { serviceCommands } from './bundled-service.js';
import { smtpSource, waitUntil } from './smtp-source.js';

export const MX_LOAD = { sessions: 20, bytes: 4096, from: 'load@client.test', to: 'box@bench.test' } as const;

export interface MxUnderLoad {
  hermod: HermodPlatform;
  /** Messages delivered to mailboxes so far. */
  delivered(): Promise<number>;
  /** n messages from smtp-source; resolves at the last 250. */
  load(n: number): ReturnType<typeof smtpSource>;
  /** Restarts each service named with its environment plus `env`, then sends `warmUp` messages to the mailbox, not measured. */
  restartWith(env: Partial<Record<'mx' | 'mda', Record<string, string>>>, warmUp: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startMxUnderLoad(options: {
  /** The DMARC record of client.test. */
  dmarc: string;
  /** Added to each service's environment. */
  env: Partial<Record<'mx' | 'mda', Record<string, string>>>;
  /** Called once the platform has started and after each restart, before the warm-up (CPU pinning). */
  afterStart?: () => void;
}): Promise<MxUnderLoad> {
  const dns = new DnsTestServer();
  await dns.start();
  dns.set([
    { type: 'TXT', name: 'client.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
    { type: 'TXT', name: '_dmarc.client.test', text: options.dmarc },
  ]);
  const hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    commands: await serviceCommands(['routing', 'mda', 'mx']),
    env: {
      mx: {
        DATABASE_POOL_SIZE: '40',
        MX_DNS_SERVERS: dns.address,
        MX_AUTH_CHECKS: 'true',
        MX_RATE_LIMIT_PER_MINUTE: '10000000',
        MX_MAX_CONNECTIONS_PER_IP: '1000',
        ...options.env.mx,
      },
      mda: { ...options.env.mda },
    },
  });
  await hermod.addDomain('bench.test');
  await new AccountStore(hermod.db.pool).create({ address: MX_LOAD.to, password: 'bench-password' });
  options.afterStart?.();
  const delivered = async () =>
    Number((await hermod.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM deliveries')).rows[0]!.n);
  const load = (n: number) => smtpSource({ port: hermod.ports.mx, messages: n, ...MX_LOAD });
  return {
    hermod,
    delivered,
    load,
    async restartWith(env, warmUp) {
      for (const [service, settings] of Object.entries(env)) {
        const proc = hermod.services.get(service as 'mx' | 'mda')!;
        await proc.stop();
        Object.assign(proc.options.env, settings);
        await proc.start(60_000);
      }
      options.afterStart?.();
      // Warm-up, not measured: the JIT compiles the hot paths (of these settings) first.
      const before = await delivered();
      await load(warmUp);
      await waitUntil(async () => (await delivered()) - before, warmUp, process.hrtime.bigint());
    },
    async stop() {
      await hermod.stop();
      await dns.stop();
    },
  };
}
