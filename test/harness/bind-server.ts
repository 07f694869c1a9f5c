import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from '@hermod/local-infra';
import { requireTool, run } from './tools.js';
import { testWorkdir } from './workdir.js';

export interface BindServer {
  host: string;
  port: number;
  /** host:port as DNS_SERVERS takes it. */
  address: string;
  zone: string;
  /** TSIG key (hmac-sha256) allowed to update the zone and to transfer it. */
  tsig: { name: string; algorithm: 'hmac-sha256'; secret: string };
  log(): string;
  stop(): Promise<void>;
}

/**
 * Debian's BIND (named) on loopback, in the foreground, authoritative for one zone that accepts
 * RFC 2136 dynamic updates and zone transfers signed with a TSIG key generated here (tsig-keygen).
 * The zone starts with only its SOA and NS.
 */
export async function startBindServer(zone: string): Promise<BindServer> {
  await requireTool('named', 'apt-get install bind9');
  await requireTool('tsig-keygen', 'apt-get install bind9-utils');
  const dir = await testWorkdir('bind');
  const origin = `${zone.replace(/\.$/, '')}.`;
  const keyName = 'hermod-test-key';
  const keygen = await run('tsig-keygen', ['-a', 'hmac-sha256', keyName]);
  const secret = /secret\s+"([^"]+)"/.exec(keygen.stdout)?.[1];
  if (keygen.code !== 0 || !secret) throw new Error(`tsig-keygen failed: ${keygen.stderr}${keygen.stdout}`);
  const zoneFile = join(dir, `${zone}.zone`);
  await writeFile(
    zoneFile,
    [
      `$ORIGIN ${origin}`,
      '$TTL 300',
      `@ IN SOA ns.${origin} hostmaster.${origin} 1 3600 600 86400 60`,
      `@ IN NS ns.${origin}`,
      'ns IN A 127.0.0.1',
      '',
    ].join('\n'),
  );
  const host = '127.0.0.1';
  const port = await freePort();
  const config = join(dir, 'named.conf');
  await writeFile(
    config,
    [
      keygen.stdout.trim(),
      'options {',
      `  directory "${dir}";`,
      `  pid-file "${join(dir, 'named.pid')}";`,
      `  session-keyfile "${join(dir, 'session.key')}";`,
      `  listen-on port ${port} { ${host}; };`,
      '  listen-on-v6 { none; };',
      '  recursion no;',
      '  notify no;',
      '  dnssec-validation no;',
      '};',
      // No rndc control channel: the test stops named with a signal.
      'controls { };',
      `zone "${origin}" {`,
      '  type primary;',
      `  file "${zoneFile}";`,
      `  allow-update { key "${keyName}"; };`,
      `  allow-transfer { key "${keyName}"; };`,
      '};',
      '',
    ].join('\n'),
  );
  const check = await run('named-checkconf', [config]);
  if (check.code !== 0) throw new Error(`named-checkconf: ${check.stderr}${check.stdout}`);
  // -g: foreground, logging to stderr; -4: IPv4 only.
  const child: ChildProcess = spawn('named', ['-g', '-4', '-c', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString('utf8')).slice(-32_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  await waitForPort(port, 15_000, host, () => child.exitCode !== null).catch((error: unknown) => {
    throw new Error(`named did not start: ${(error as Error).message}\n${out}`);
  });
  return {
    host,
    port,
    address: `${host}:${port}`,
    zone: zone.replace(/\.$/, ''),
    tsig: { name: keyName, algorithm: 'hmac-sha256', secret },
    log: () => out,
    stop: () => stopChild(child, 'SIGTERM', 10_000),
  };
}
