import { domainLimitOverrides, setDomainLimitOverrides } from '@hermod/accounts';
import { normalizeDomain } from '@hermod/address';
import { migrate } from '@hermod/db';
import {
  createDomainConfig,
  type DomainConfigValue,
  deleteDomainConfig,
  listDomainConfigs,
  openDomainBucket,
  parseDomainConfig,
  updateDomainConfig,
  writeDomainConfig,
} from '@hermod/domain-config';
import { type CliCommand, parseFlags, subcommandError, UsageError } from '../command.js';
import { formatLimitOverrides, limitFlags, limitFlagsHelp, parseLimitOverrides } from './limit-flags.js';

const help = `hermod domain: the domains this platform serves (live configuration; no restart needed)

Usage:
  hermod domain add <domain> [--mode local|remote|backup|auto] [--remote-host HOST[:PORT]]...
                              [--max-message-bytes N] [--require-tls] [--quarantine-digest] [--replace]
  hermod domain set <domain> [--mode ...] [--remote-host HOST[:PORT]]... [--max-message-bytes N]
                              [--require-tls | --no-require-tls]
                              [--quarantine-digest | --no-quarantine-digest]
  hermod domain list [--json]
  hermod domain remove <domain>
  hermod domain limits <domain> [options]
                              show or change the submission limits of the domain's accounts
                              (stored in PostgreSQL; an account's own limits take precedence)
${limitFlagsHelp}

Modes: local delivers into mailboxes here; remote sends all mail for the domain to its MX (or to
--remote-host); backup holds and relays to the primary; auto decides from the domain's MX records.
\`add\` refuses a domain that exists; \`add --replace\` replaces all its settings (its aliases,
catch-all and sub-address separator too). \`set\` changes only the settings it names; its
--remote-host list replaces the previous one. --quarantine-digest tells the domain's recipients of
held messages by one digest a period instead of a notice per message (docs/malware-and-quarantine.md).`;

const modes = ['local', 'remote', 'backup', 'auto'] as const;
const settingFlags = {
  values: ['mode', 'remote-host', 'max-message-bytes'],
  switches: ['require-tls', 'quarantine-digest'],
};

function parseHost(value: string): { host: string; port: number } {
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(value);
  if (!match) throw new UsageError(`--remote-host: '${value}' is not HOST or HOST:PORT`);
  const port = match[2] ? Number(match[2]) : 25;
  if (port < 1 || port > 65535) throw new UsageError(`--remote-host: port ${port} out of range`);
  return { host: match[1]!, port };
}

function domainArgument(positional: string[], sub: string): string {
  const [name, extra] = positional;
  if (!name || extra) throw new UsageError(`${sub} takes exactly one domain`);
  const domain = normalizeDomain(name);
  if (!domain) throw new UsageError(`'${name}' is not a valid domain name`);
  return domain;
}

/** The settings named on the command line, as a change to a domain's config (only what was named). */
function namedSettings(
  args: string[],
  values: Record<string, string>,
  switches: Set<string>,
): (config: DomainConfigValue) => DomainConfigValue {
  const mode = values.mode;
  if (mode !== undefined && !(modes as readonly string[]).includes(mode))
    throw new UsageError(`--mode must be local, remote, backup or auto (got '${mode}')`);
  const maxBytes = values['max-message-bytes'];
  if (maxBytes !== undefined && !/^\d+$/.test(maxBytes))
    throw new UsageError('--max-message-bytes must be a whole number');
  const hosts = args.flatMap((a, i) =>
    a === '--remote-host' ? [args[i + 1]!] : a.startsWith('--remote-host=') ? [a.slice(14)] : [],
  );
  const requireTls = switches.has('require-tls') ? true : switches.has('no-require-tls') ? false : undefined;
  const digest = switches.has('quarantine-digest')
    ? true
    : switches.has('no-quarantine-digest')
      ? false
      : undefined;
  const parsedHosts = hosts.map(parseHost);
  return (config) => {
    const tls = requireTls ?? config.tls.requireOutbound;
    return {
      ...config,
      ...(mode !== undefined ? { exchanger: mode as (typeof modes)[number] } : {}),
      remoteHosts:
        hosts.length > 0
          ? parsedHosts.map((h, i) => ({ ...h, preference: (i + 1) * 10, requireTls: tls }))
          : config.remoteHosts.map((h) => ({ ...h, requireTls: requireTls ?? h.requireTls })),
      limits:
        maxBytes !== undefined ? { ...config.limits, maxMessageBytes: Number(maxBytes) } : config.limits,
      tls: { ...config.tls, requireOutbound: tls },
      ...(digest !== undefined ? { quarantine: { ...config.quarantine, digest } } : {}),
    };
  };
}

export const domainCommand: CliCommand = {
  name: 'domain',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    const kv = async () => openDomainBucket((await ctx.nats()).jetstream());
    switch (sub) {
      case 'add': {
        const flags = parseFlags(rest, {
          values: settingFlags.values,
          switches: [...settingFlags.switches, 'replace'],
        });
        const domain = domainArgument(flags.positional, 'add');
        const config = namedSettings(
          rest,
          flags.values,
          flags.switches,
        )(parseDomainConfig({ domain, source: 'cli' }));
        const bucket = await kv();
        if (flags.switches.has('replace')) await writeDomainConfig(bucket, config);
        else if (!(await createDomainConfig(bucket, config))) {
          ctx.stderr.write(
            `hermod domain: ${domain} already exists. 'hermod domain set ${domain} --mode ...' changes the ` +
              `settings it names; 'hermod domain add ${domain} --replace ...' replaces them all (aliases, ` +
              'catch-all and sub-address separator included)\n',
          );
          return 1;
        }
        ctx.stdout.write(`domain ${domain} (${config.exchanger}) saved\n`);
        return 0;
      }
      case 'set': {
        const flags = parseFlags(rest, {
          values: settingFlags.values,
          switches: [...settingFlags.switches, 'no-require-tls', 'no-quarantine-digest'],
        });
        const domain = domainArgument(flags.positional, 'set');
        if (Object.keys(flags.values).length === 0 && flags.switches.size === 0)
          throw new UsageError('set takes at least one setting (--mode, --remote-host, ...)');
        for (const name of ['require-tls', 'quarantine-digest'])
          if (flags.switches.has(name) && flags.switches.has(`no-${name}`))
            throw new UsageError(`--${name} and --no-${name} contradict each other`);
        const change = namedSettings(rest, flags.values, flags.switches);
        const saved = await updateDomainConfig(await kv(), domain, change);
        if (!saved) {
          ctx.stderr.write(`hermod domain: no domain ${domain} (add it with 'hermod domain add')\n`);
          return 1;
        }
        ctx.stdout.write(
          `domain ${domain} (${saved.exchanger}${saved.remoteHosts.length > 0 ? ` via ${saved.remoteHosts.map((h) => `${h.host}:${h.port}`).join(',')}` : ''}) saved\n`,
        );
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
        const domain = domainArgument(rest, 'remove');
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
      case 'limits': {
        const flags = parseFlags(rest, { values: limitFlags });
        const domain = domainArgument(flags.positional, 'limits');
        const overrides = parseLimitOverrides(flags.values);
        const pool = await ctx.db();
        await migrate(pool);
        const stored =
          Object.keys(overrides).length > 0
            ? await setDomainLimitOverrides(pool, domain, overrides)
            : await domainLimitOverrides(pool, domain);
        ctx.stdout.write(`${formatLimitOverrides(stored)}\n`);
        return 0;
      }
      default:
        throw subcommandError(sub, ['add', 'set', 'list', 'remove', 'limits']);
    }
  },
};
