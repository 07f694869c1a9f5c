import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from '@hermod/local-infra';
import { requireTool, run } from './tools.js';
import { testWorkdir } from './workdir.js';

export interface TestZone {
  /** The zone's apex ("dane.test"). */
  name: string;
  /** Zone-file lines relative to the apex ("mx IN A 127.0.0.1"); SOA and NS are added. */
  records: string[];
  /** Sign with ldns-signzone and trust its key (a DNSSEC-secure zone); unsigned zones are insecure. */
  signed: boolean;
  /**
   * Owner names (relative to the apex) whose records are altered after signing, their signatures
   * kept: a validating resolver finds them bogus (SERVFAIL).
   */
  tamper?: string[];
}

export interface ValidatingResolver {
  host: string;
  port: number;
  /** host:port as OUTBOUND_DNS_SERVERS takes it. */
  address: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * Debian's unbound on loopback as a validating resolver over test zones: each zone is served from
 * an auth-zone (for-upstream: unbound answers from it as if it had asked the zone's servers, and
 * validates the answers), signed zones with a fresh ECDSA key (ldns-keygen, ldns-signzone) whose
 * DS is the trust anchor. Names under no trust anchor are insecure; tampered records are bogus.
 */
export async function startValidatingResolver(
  zones: TestZone[],
  listen: { host?: string; port?: number } = {},
): Promise<ValidatingResolver> {
  await requireTool('unbound', 'apt-get install unbound');
  await requireTool('ldns-signzone', 'apt-get install ldnsutils');
  const dir = await testWorkdir('unbound');
  const anchors: string[] = [];
  const authZones: string[] = [];
  for (const zone of zones) {
    const origin = `${zone.name.replace(/\.$/, '')}.`;
    const file = join(dir, `${zone.name}.zone`);
    await writeFile(
      file,
      [
        `$ORIGIN ${origin}`,
        '$TTL 300',
        `@ IN SOA ns.${origin} hostmaster.${origin} 1 3600 600 86400 300`,
        `@ IN NS ns.${origin}`,
        'ns IN A 127.0.0.1',
        ...zone.records,
        '',
      ].join('\n'),
    );
    let served = file;
    if (zone.signed) {
      const keygen = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', origin], { cwd: dir });
      const key = keygen.stdout.trim();
      if (keygen.code !== 0 || !key) throw new Error(`ldns-keygen failed: ${keygen.stderr}`);
      const sign = await run('ldns-signzone', [file, join(dir, key)], { cwd: dir });
      if (sign.code !== 0) throw new Error(`ldns-signzone failed: ${sign.stderr}`);
      served = `${file}.signed`;
      anchors.push((await readFile(join(dir, `${key}.ds`), 'utf8')).trim().replace(/\s+/g, ' '));
      if (zone.tamper?.length) {
        const owners = new Set(zone.tamper.map((t) => `${t}.${origin}`.toLowerCase()));
        const text = await readFile(served, 'utf8');
        // The last hex digit of each tampered record's data flipped; its RRSIG stays as it was.
        const altered = text
          .split('\n')
          .map((line) => {
            const [owner, , , type] = line.split(/\s+/);
            if (!owner || !owners.has(owner.toLowerCase()) || type === 'RRSIG' || type === 'NSEC')
              return line;
            return line.replace(/([0-9a-f])$/i, (d) => (d.toLowerCase() === 'f' ? '0' : 'f'));
          })
          .join('\n');
        await writeFile(served, altered);
      }
    }
    authZones.push(
      'auth-zone:',
      `  name: "${zone.name}"`,
      `  zonefile: "${served}"`,
      '  for-upstream: yes',
      '  for-downstream: no',
      '  fallback-enabled: no',
    );
  }
  const host = listen.host ?? '127.0.0.1';
  const port = listen.port ?? (await freePort());
  const config = join(dir, 'unbound.conf');
  await writeFile(
    config,
    [
      'server:',
      `  interface: ${host}@${port}`,
      `  port: ${port}`,
      '  do-ip6: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${join(dir, 'unbound.pid')}"`,
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 1',
      '  val-log-level: 2',
      '  module-config: "validator iterator"',
      '  qname-minimisation: no',
      '  access-control: 127.0.0.0/8 allow',
      // Special-use names (RFC 6761) are answered NXDOMAIN by default: ours are served here.
      ...zones.map((z) => `  local-zone: "${z.name.split('.').pop()}." nodefault`),
      ...anchors.map((a) => `  trust-anchor: "${a}"`),
      ...authZones,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('unbound', ['-d', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString('utf8')).slice(-16_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await waitForPort(port, 10_000, host, () => child.exitCode !== null).catch((error: unknown) => {
    throw new Error(`unbound did not start: ${(error as Error).message}\n${out}`);
  });
  return {
    host,
    port,
    address: `${host}:${port}`,
    log: () => out,
    stop: () => stopChild(child, 'SIGTERM', 5_000),
  };
}
