import { formatErrors, type GlobalPhase, SieveScriptError } from '@hermod/sieve-store';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';
import { readAll, sieveOwner, sieveStore } from './sieve-common.js';

const help = `hermod sieve: users' mail filters (Sieve, RFC 5228) and the domains' global rules

Usage:
  hermod sieve list <address>
  hermod sieve get <address> <name>
  hermod sieve put <address> <name> [--activate]    script from stdin; compiled first
  hermod sieve check <address>                      script from stdin; errors name line and column
  hermod sieve activate <address> <name>            the one script that runs at delivery
  hermod sieve deactivate <address>
  hermod sieve delete <address> <name>
  hermod sieve global list <domain>
  hermod sieve global put <domain> <before|after|library> <name>   script from stdin
  hermod sieve global delete <domain> <name>

A domain's 'before' script runs ahead of every user's script of the domain, 'after' behind it;
'library' scripts serve 'include :global'. A domain whose MailDomain sets spec.sieve has exactly
those global scripts: 'global put' and 'global delete' refuse to change them (the spec wins).
Example: hermod sieve put ann@example.com main < main.sieve`;

function warn(ctx: CliContext, warnings: Parameters<typeof formatErrors>[0]) {
  if (warnings.length > 0) ctx.stderr.write(`warnings:\n${formatErrors(warnings)}\n`);
}

async function globalCommand(args: string[], ctx: CliContext): Promise<number> {
  const [sub, domain, ...rest] = args;
  if (!domain) throw new UsageError('global commands take a domain');
  const scripts = await sieveStore(ctx);
  switch (sub) {
    case 'list': {
      const list = await scripts.listGlobal(domain.toLowerCase());
      const owner = await scripts.globalOwner(domain.toLowerCase());
      if (owner) ctx.stdout.write(`# set by ${owner} (spec.sieve); the CLI cannot change them\n`);
      ctx.stdout.write(
        list.length === 0
          ? 'no global scripts\n'
          : `${list.map((s) => `${s.name}\t${s.phase}`).join('\n')}\n`,
      );
      return 0;
    }
    case 'put': {
      const [phase, name, extra] = rest;
      if (!phase || !['before', 'after', 'library'].includes(phase) || !name || extra)
        throw new UsageError('global put takes a domain, before|after|library and a name');
      warn(
        ctx,
        await scripts.putGlobal(domain.toLowerCase(), name, phase as GlobalPhase, await readAll(ctx.stdin)),
      );
      ctx.stdout.write(`global script ${name} (${phase}) stored for ${domain}\n`);
      return 0;
    }
    case 'delete': {
      const [name, extra] = rest;
      if (!name || extra) throw new UsageError('global delete takes a domain and a name');
      await scripts.deleteGlobal(domain.toLowerCase(), name);
      ctx.stdout.write(`global script ${name} deleted from ${domain}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown global subcommand ${sub ?? '(none)'}`);
  }
}

const SUBCOMMANDS = ['list', 'get', 'put', 'check', 'activate', 'deactivate', 'delete', 'global'];

export const sieveCommand: CliCommand = {
  name: 'sieve',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    // The subcommand first: otherwise a mistyped one is blamed on its arguments or a connection.
    if (!sub || !SUBCOMMANDS.includes(sub)) throw subcommandError(sub, SUBCOMMANDS);
    try {
      if (sub === 'global') return await globalCommand(rest, ctx);
      const flags = parseFlags(rest, { switches: ['activate'] });
      const [address, name, extra] = flags.positional;
      if (!address) throw new UsageError(`${sub} takes an address`);
      const needsName = ['get', 'put', 'activate', 'delete'].includes(sub ?? '');
      if ((needsName && !name) || (!needsName && name) || extra)
        throw new UsageError(`wrong arguments for ${sub}; see hermod sieve --help`);
      const { scripts, owner } = await sieveOwner(ctx, address);
      switch (sub) {
        case 'list': {
          const list = await scripts.list(owner);
          ctx.stdout.write(
            list.length === 0
              ? 'no scripts\n'
              : `${list.map((s) => `${s.name}${s.active ? '\tactive' : ''}`).join('\n')}\n`,
          );
          return 0;
        }
        case 'get':
          ctx.stdout.write((await scripts.get(owner, name!)).source);
          return 0;
        case 'put':
          warn(ctx, await scripts.put(owner, name!, await readAll(ctx.stdin)));
          if (flags.switches.has('activate')) await scripts.activate(owner, name!);
          ctx.stdout.write(`script ${name} stored${flags.switches.has('activate') ? ' and active' : ''}\n`);
          return 0;
        case 'check':
          warn(ctx, await scripts.check(owner, await readAll(ctx.stdin)));
          ctx.stdout.write('script is valid\n');
          return 0;
        case 'activate':
          await scripts.activate(owner, name!);
          ctx.stdout.write(`script ${name} is active\n`);
          return 0;
        case 'deactivate':
          await scripts.activate(owner, '');
          ctx.stdout.write('no script is active\n');
          return 0;
        case 'delete':
          await scripts.delete(owner, name!);
          ctx.stdout.write(`script ${name} deleted\n`);
          return 0;
        default:
          throw subcommandError(sub, SUBCOMMANDS);
      }
    } catch (error) {
      if (error instanceof SieveScriptError) {
        ctx.stderr.write(`hermod sieve: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
