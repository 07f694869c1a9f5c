import { normalizeDomain } from '@hermod/address';
import {
  type DomainConfigValue,
  deleteDomainConfig,
  listDomainConfigs,
  openDomainBucket,
  parseDomainConfig,
  writeDomainConfig,
} from '@hermod/domain-config';
import { type CliCommand, parseFlags, UsageError } from '../command.js';

const help = `hermod domain: the domains this platform serves (live configuration; no restart needed)

Usage:
  hermod domain add <domain> [--mode local|remote|backup|auto] [--remote-host HOST[:PORT]]...
                              [--max-message-bytes N] [--require-tls]
  hermod domain list [--json]
  hermod domain remove <domain>

Modes: local delivers into mailboxes here; remote sends all mail for the domain to its MX (or to
--remote-host); backup holds and relays to the primary; auto decides from the domain's MX records.
\`add\` on an existing domain replaces its settings.`;

function parseHost(value: string): { host: string; port: number } {
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(value);
  if (!match) throw new UsageError(`--remote-host: '${value}' is not HOST or HOST:PORT`);
  const port = match[2] ? Number(match[2]) : 25;
  if (port < 1 || port > 65535) throw new UsageError(`--remote-host: port ${port} out of range`);
  return { host: match[1]!, port };
}

export const domainCommand: CliCommand = {
  name: 'domain',
  summary: 'add, list and remove served domains',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    const kv = async () => openDomainBucket((await ctx.nats()).jetstream());
    switch (sub) {
      case 'add': {
        const flags = parseFlags(rest, {
          values: ['mode', 'remote-host', 'max-message-bytes'],
          switches: ['require-tls'],
        });
        const hosts = rest.flatMap((a, i) =>
          a === '--remote-host' ? [rest[i + 1]!] : a.startsWith('--remote-host=') ? [a.slice(14)] : [],
        );
        const [name, extra] = flags.positional;
        if (!name || extra) throw new UsageError('add takes exactly one domain');
        const domain = normalizeDomain(name);
        if (!domain) throw new UsageError(`'${name}' is not a valid domain name`);
        const mode = flags.values.mode ?? 'local';
        if (!['local', 'remote', 'backup', 'auto'].includes(mode))
          throw new UsageError(`--mode must be local, remote, backup or auto (got '${mode}')`);
        const maxBytes = flags.values['max-message-bytes'];
        if (maxBytes !== undefined && !/^\d+$/.test(maxBytes))
          throw new UsageError('--max-message-bytes must be a whole number');
        const config = parseDomainConfig({
          domain,
          exchanger: mode,
          remoteHosts: hosts.map((h, i) => ({
            ...parseHost(h),
            preference: (i + 1) * 10,
            requireTls: flags.switches.has('require-tls'),
          })),
          limits: maxBytes ? { maxMessageBytes: Number(maxBytes) } : {},
          tls: { requireOutbound: flags.switches.has('require-tls'), mtaSts: 'none' },
          source: 'cli',
        });
        await writeDomainConfig(await kv(), config);
        ctx.stdout.write(`domain ${domain} (${mode}) saved\n`);
        return 0;
      }
      case 'list': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const domains = await listDomainConfigs(await kv());
        if (flags.switches.has('json')) {
          ctx.stdout.write(`${JSON.stringify(domains, null, 2)}\n`);
          return 0;
        }
        if (domains.length === 0) {
          ctx.stdout.write('no domains\n');
          return 0;
        }
        const row = (d: DomainConfigValue) =>
          `${d.domain.padEnd(32)} ${d.exchanger.padEnd(7)} ${(d.remoteHosts.map((h) => `${h.host}:${h.port}`).join(',') || '-').padEnd(24)} ${d.source}`;
        ctx.stdout.write(
          `${'DOMAIN'.padEnd(32)} ${'MODE'.padEnd(7)} ${'REMOTE HOSTS'.padEnd(24)} SOURCE\n${domains.map(row).join('\n')}\n`,
        );
        return 0;
      }
      case 'remove': {
        const [name, extra] = rest;
        if (!name || extra) throw new UsageError('remove takes exactly one domain');
        const domain = normalizeDomain(name);
        if (!domain) throw new UsageError(`'${name}' is not a valid domain name`);
        const bucket = await kv();
        const existing = await bucket.get(domain);
        if (existing?.operation !== 'PUT') {
          ctx.stderr.write(`hermod domain: no domain ${domain}\n`);
          return 1;
        }
        await deleteDomainConfig(bucket, domain);
        ctx.stdout.write(`domain ${domain} removed\n`);
        return 0;
      }
      default:
        throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand (add, list, remove)');
    }
  },
};
