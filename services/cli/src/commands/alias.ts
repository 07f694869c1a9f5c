import { normalizeDomain, parseAddress } from '@hermod/address';
import {
  type DomainConfigValue,
  openDomainBucket,
  parseDomainConfig,
  updateDomainConfig,
} from '@hermod/domain-config';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod alias: domain aliases, catch-all and sub-addressing (live configuration; no restart needed)

Usage:
  hermod alias add <alias@domain> <destination>...   one to many; local or external destinations
  hermod alias remove <alias@domain>
  hermod alias list [<domain>] [--json]
  hermod alias catch-all <domain> <destination>       mail for unknown users of the domain
  hermod alias catch-all <domain> --clear
  hermod alias separator <domain> <character>         sub-addressing: user+tag@ delivers to user@

External destinations are forwarded with SRS (the envelope sender is rewritten). Aliases that
lead back to themselves are refused at RCPT time (5.4.6). \`add\` on an existing alias replaces it.`;

function domainOf(value: string): string {
  const domain = normalizeDomain(value);
  if (!domain) throw new UsageError(`'${value}' is not a valid domain name`);
  return domain;
}

function address(value: string): string {
  try {
    return parseAddress(value).canonical;
  } catch (error) {
    throw new UsageError(`'${value}' is not a valid address: ${(error as Error).message}`);
  }
}

async function edit(
  ctx: CliContext,
  domain: string,
  change: (config: DomainConfigValue) => DomainConfigValue,
  done: string,
): Promise<number> {
  const kv = await openDomainBucket((await ctx.nats()).jetstream());
  const saved = await updateDomainConfig(kv, domain, change);
  if (!saved) {
    ctx.stderr.write(`hermod alias: no domain ${domain} (add it with 'hermod domain add')\n`);
    return 1;
  }
  ctx.stdout.write(`${done}\n`);
  return 0;
}

export const aliasCommand: CliCommand = {
  name: 'alias',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'add': {
        const [source, ...destinations] = rest;
        if (!source || destinations.length === 0)
          throw new UsageError('add takes an alias address and at least one destination');
        const alias = parseAddress(address(source));
        const targets = destinations.map(address);
        if (targets.includes(alias.canonical)) throw new UsageError('an alias cannot point at itself');
        const local = alias.localPart.toLowerCase();
        return edit(
          ctx,
          alias.domain,
          (c) => ({
            ...c,
            aliases: [
              ...c.aliases.filter((a) => a.source.toLowerCase() !== local),
              { source: local, destinations: targets },
            ],
          }),
          `alias ${alias.canonical} -> ${targets.join(', ')} saved`,
        );
      }
      case 'remove': {
        const [source, extra] = rest;
        if (!source || extra) throw new UsageError('remove takes exactly one alias address');
        const alias = parseAddress(address(source));
        const local = alias.localPart.toLowerCase();
        let found = false;
        const code = await edit(
          ctx,
          alias.domain,
          (c) => {
            found = c.aliases.some((a) => a.source.toLowerCase() === local);
            return { ...c, aliases: c.aliases.filter((a) => a.source.toLowerCase() !== local) };
          },
          `alias ${alias.canonical} removed`,
        );
        if (code === 0 && !found) ctx.stderr.write(`hermod alias: ${alias.canonical} was not an alias\n`);
        return code;
      }
      case 'list': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const [name] = flags.positional;
        const kv = await openDomainBucket((await ctx.nats()).jetstream());
        const rows: Array<{ alias: string; destinations: string[] }> = [];
        const keys: string[] = [];
        if (name) keys.push(domainOf(name));
        else for await (const k of await kv.keys()) keys.push(k);
        for (const key of keys.sort()) {
          const entry = await kv.get(key);
          if (entry?.operation !== 'PUT') continue;
          const config = parseDomainConfig(entry.json());
          for (const a of config.aliases)
            rows.push({ alias: `${a.source}@${config.domain}`, destinations: a.destinations });
          if (config.catchAll) rows.push({ alias: `*@${config.domain}`, destinations: [config.catchAll] });
        }
        if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else if (rows.length === 0) ctx.stdout.write('no aliases\n');
        else
          ctx.stdout.write(
            `${rows.map((r) => `${r.alias.padEnd(40)} ${r.destinations.join(', ')}`).join('\n')}\n`,
          );
        return 0;
      }
      case 'catch-all': {
        const flags = parseFlags(rest, { switches: ['clear'] });
        const [name, destination, extra] = flags.positional;
        if (
          !name ||
          extra ||
          (!destination && !flags.switches.has('clear')) ||
          (destination && flags.switches.has('clear'))
        )
          throw new UsageError('catch-all takes a domain and either a destination or --clear');
        const domain = domainOf(name);
        if (!destination)
          return edit(
            ctx,
            domain,
            ({ catchAll: _, ...c }) => c as DomainConfigValue,
            `catch-all of ${domain} cleared`,
          );
        const target = address(destination);
        return edit(
          ctx,
          domain,
          (c) => ({ ...c, catchAll: target }),
          `catch-all of ${domain} -> ${target} saved`,
        );
      }
      case 'separator': {
        const [name, separator, extra] = rest;
        if (!name || !separator || extra) throw new UsageError('separator takes a domain and one character');
        if (!/^[+\-_=.]$/.test(separator))
          throw new UsageError(`separator must be one of + - _ = . (got '${separator}')`);
        const domain = domainOf(name);
        return edit(
          ctx,
          domain,
          (c) => ({ ...c, subaddressSeparator: separator }),
          `sub-address separator of ${domain} is '${separator}'`,
        );
      }
      default:
        throw subcommandError(sub, ['add', 'remove', 'list', 'catch-all', 'separator']);
    }
  },
};
