import { AccountError, AccountStore, isLoginScope, type LoginScope, loginScopes } from '@hermod/accounts';
import { migrate } from '@hermod/db';
import { type CliCommand, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod app-password: extra passwords of an account, each for some protocols only

Usage:
  hermod app-password add <address> <name> --scopes SCOPE[,SCOPE...] [--expires-days N]
                                          prints the new password (shown once)
  hermod app-password list <address> [--json]
  hermod app-password revoke <address> <name>
  hermod app-password main-scopes <address> SCOPE[,SCOPE...]|all
                                          restrict the account's main password

Scopes: ${loginScopes.join(', ')}.`;

function parseScopes(value: string | undefined): LoginScope[] {
  if (!value) throw new UsageError(`--scopes is required (${loginScopes.join(', ')})`);
  const scopes = value.split(',').map((s) => s.trim().toLowerCase());
  for (const scope of scopes)
    if (!isLoginScope(scope)) throw new UsageError(`unknown scope '${scope}' (${loginScopes.join(', ')})`);
  return scopes as LoginScope[];
}

export const appPasswordCommand: CliCommand = {
  name: 'app-password',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    const store = async () => {
      const pool = await ctx.db();
      await migrate(pool);
      return new AccountStore(pool);
    };
    try {
      switch (sub) {
        case 'add': {
          const flags = parseFlags(rest, { values: ['scopes', 'expires-days'] });
          const [address, name, extra] = flags.positional;
          if (!address || !name || extra) throw new UsageError('add takes an address and a name');
          const days = flags.values['expires-days'];
          if (days !== undefined && !/^\d+$/.test(days))
            throw new UsageError('--expires-days must be a whole number');
          const secret = await (await store()).addAppPassword(address, {
            name,
            scopes: parseScopes(flags.values.scopes),
            ...(days ? { expiresAt: new Date(Date.now() + Number(days) * 86_400_000) } : {}),
          });
          ctx.stdout.write(`${secret}\n`);
          return 0;
        }
        case 'list': {
          const flags = parseFlags(rest, { switches: ['json'] });
          const [address, extra] = flags.positional;
          if (!address || extra) throw new UsageError('list takes exactly one address');
          const list = await (await store()).listAppPasswords(address);
          if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          else if (list.length === 0) ctx.stdout.write('no app passwords\n');
          else
            ctx.stdout.write(
              `${list
                .map(
                  (p) =>
                    `${p.name.padEnd(24)} ${p.scopes.join(',').padEnd(30)} ${p.expiresAt ? `expires ${p.expiresAt.toISOString()}` : 'no expiry'}`,
                )
                .join('\n')}\n`,
            );
          return 0;
        }
        case 'revoke': {
          const [address, name, extra] = rest;
          if (!address || !name || extra) throw new UsageError('revoke takes an address and a name');
          await (await store()).revokeAppPassword(address, name);
          ctx.stdout.write(`app password ${name} of ${address} revoked\n`);
          return 0;
        }
        case 'main-scopes': {
          const [address, value, extra] = rest;
          if (!address || !value || extra) throw new UsageError('main-scopes takes an address and scopes');
          await (await store()).setPasswordScopes(address, value === 'all' ? null : parseScopes(value));
          ctx.stdout.write(`main password of ${address}: ${value}\n`);
          return 0;
        }
        default:
          throw subcommandError(sub, ['add', 'list', 'revoke', 'main-scopes']);
      }
    } catch (error) {
      if (error instanceof AccountError) {
        ctx.stderr.write(`hermod app-password: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
