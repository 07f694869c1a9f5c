import { AccountError, AccountStore } from '@hermod/accounts';
import { parseAddress } from '@hermod/address';
import { migrate } from '@hermod/db';
import { openDomainBucket, readDomainConfig } from '@hermod/domain-config';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';
import { formatLimitOverrides, limitFlags, limitFlagsHelp, parseLimitOverrides } from './limit-flags.js';

const help = `hermod user: mail accounts

Usage:
  hermod user add <address> [--quota BYTES] [--force]
                                                password from stdin or a prompt; --force allows a
                                                domain not (yet) served for local delivery
  hermod user passwd <address>                  new password from stdin or a prompt
  hermod user alias <address> <other-address>   let the account receive and send as another address
  hermod user list [--domain DOMAIN] [--json]
  hermod user remove <address>
  hermod user suspend <address> [--sending-only] [--reason TEXT]
                                                without --sending-only the account cannot log in at
                                                all; with it, msa refuses its submissions (550 5.7.1)
                                                and its owner gets a notice
  hermod user unsuspend <address> [--sending-only]
                                                lifts both (or only the sending suspension), and
                                                forgets the recipient-limit hits that count towards
                                                an automatic suspension
  hermod user limits <address> [options]        show or change the account's submission limits;
                                                without options shows them and any suspension
${limitFlagsHelp}

Limits: the account's value, else its domain's (hermod domain limits), else msa's setting.

Accounts managed by a Kubernetes MailUser are read-only here: change the resource instead.

Passwords are never taken from the command line. Example: printf '%s\\n' "$PW" | hermod user add ann@example.com`;

async function store(ctx: CliContext): Promise<AccountStore> {
  const pool = await ctx.db();
  await migrate(pool);
  return new AccountStore(pool);
}

/** Checked before anything else happens (before a password is asked for). */
function checkAddress(value: string): string {
  try {
    parseAddress(value);
    return value;
  } catch (error) {
    throw new UsageError(`'${value}' is not a valid address: ${(error as Error).message}`);
  }
}

/**
 * An account can only receive on a domain served here for local delivery (local or auto mode);
 * refuses others unless forced (a domain about to be added).
 */
async function checkServedDomain(ctx: CliContext, address: string): Promise<void> {
  let domain: string;
  try {
    ({ domain } = parseAddress(address));
  } catch {
    return; // AccountStore.create says what is wrong with the address
  }
  const config = await readDomainConfig(await openDomainBucket((await ctx.nats()).jetstream()), domain);
  if (!config)
    throw new AccountError(
      'bad-address',
      `${domain} is not a domain this platform serves (hermod domain add ${domain}, or --force if it is about to be added)`,
    );
  if (config.exchanger === 'remote' || config.exchanger === 'backup')
    throw new AccountError(
      'bad-address',
      `${domain} is served in ${config.exchanger} mode: its mail is not delivered here (--force to create the account anyway)`,
    );
}

async function newPassword(ctx: CliContext): Promise<string> {
  const password = await ctx.readSecret('Password: ');
  if (ctx.stdin.isTTY) {
    const again = await ctx.readSecret('Repeat password: ');
    if (again !== password) throw new UsageError('the passwords do not match');
  }
  if (!password) throw new UsageError('empty password');
  return password;
}

export const userCommand: CliCommand = {
  name: 'user',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    try {
      switch (sub) {
        case 'add': {
          const flags = parseFlags(rest, { values: ['quota'], switches: ['force'] });
          const [address, extra] = flags.positional;
          if (!address || extra) throw new UsageError('add takes exactly one address');
          checkAddress(address);
          const quota = flags.values.quota;
          if (quota !== undefined && !/^\d+$/.test(quota))
            throw new UsageError('--quota must be a whole number of bytes');
          if (!flags.switches.has('force')) await checkServedDomain(ctx, address);
          const accounts = await store(ctx);
          const account = await accounts.create({
            address,
            password: await newPassword(ctx),
            ...(quota ? { quotaBytes: Number(quota) } : {}),
          });
          ctx.stdout.write(`user ${account.address} created\n`);
          return 0;
        }
        case 'passwd': {
          const [address, extra] = rest;
          if (!address || extra) throw new UsageError('passwd takes exactly one address');
          checkAddress(address);
          const accounts = await store(ctx);
          await accounts.setPassword(address, await newPassword(ctx));
          ctx.stdout.write(`password of ${address} changed\n`);
          return 0;
        }
        case 'alias': {
          const [address, alias, extra] = rest;
          if (!address || !alias || extra)
            throw new UsageError('alias takes an account address and the alias');
          await (await store(ctx)).addAlias(address, alias);
          ctx.stdout.write(`${alias} now belongs to ${address}\n`);
          return 0;
        }
        case 'list': {
          const flags = parseFlags(rest, { values: ['domain'], switches: ['json'] });
          const accounts = await (await store(ctx)).list(flags.values.domain);
          if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(accounts, null, 2)}\n`);
          else if (accounts.length === 0) ctx.stdout.write('no users\n');
          else
            ctx.stdout.write(
              `${accounts
                .map(
                  (a) =>
                    `${a.address.padEnd(40)} ${a.quotaBytes ?? 'no quota'}${a.disabled ? ' disabled' : ''}${a.aliases.length ? `  aliases: ${a.aliases.join(', ')}` : ''}${a.managedBy ? `  managed by ${a.managedBy}` : ''}`,
                )
                .join('\n')}\n`,
            );
          return 0;
        }
        case 'remove': {
          const [address, extra] = rest;
          if (!address || extra) throw new UsageError('remove takes exactly one address');
          await (await store(ctx)).remove(address);
          ctx.stdout.write(`user ${address} removed\n`);
          return 0;
        }
        case 'suspend': {
          const flags = parseFlags(rest, { values: ['reason'], switches: ['sending-only'] });
          const [address, extra] = flags.positional;
          if (!address || extra) throw new UsageError('suspend takes exactly one address');
          const accounts = await store(ctx);
          const reason = flags.values.reason ?? 'suspended by an administrator';
          const sending = await accounts.suspendSending(address, reason);
          if (!flags.switches.has('sending-only')) await accounts.setDisabled(address, true);
          ctx.stdout.write(
            `${address}: ${flags.switches.has('sending-only') ? 'sending' : 'login and sending'} suspended${
              sending.suspended ? '' : ' (sending was suspended already)'
            }\n`,
          );
          return 0;
        }
        case 'unsuspend': {
          const flags = parseFlags(rest, { switches: ['sending-only'] });
          const [address, extra] = flags.positional;
          if (!address || extra) throw new UsageError('unsuspend takes exactly one address');
          const accounts = await store(ctx);
          const sending = await accounts.resumeSending(address);
          if (!flags.switches.has('sending-only')) await accounts.setDisabled(address, false);
          ctx.stdout.write(
            `${address}: ${flags.switches.has('sending-only') ? 'sending' : 'login and sending'} allowed${
              sending ? '' : ' (sending was not suspended)'
            }\n`,
          );
          return 0;
        }
        case 'limits': {
          const flags = parseFlags(rest, { values: limitFlags });
          const [address, extra] = flags.positional;
          if (!address || extra) throw new UsageError('limits takes exactly one address');
          const overrides = parseLimitOverrides(flags.values);
          const accounts = await store(ctx);
          const stored =
            Object.keys(overrides).length > 0
              ? await accounts.setLimitOverrides(address, overrides)
              : await accounts.limitOverrides(address);
          const suspension = await accounts.sendingSuspension(address);
          ctx.stdout.write(
            `${formatLimitOverrides(stored)}\nsending              ${
              suspension
                ? `suspended since ${suspension.since.toISOString()}: ${suspension.reason}`
                : 'allowed'
            }\n`,
          );
          return 0;
        }
        default:
          throw subcommandError(sub, [
            'add',
            'passwd',
            'alias',
            'list',
            'remove',
            'suspend',
            'unsuspend',
            'limits',
          ]);
      }
    } catch (error) {
      // A bad address or a weak password is a usage mistake (exit 2); the rest is about the data.
      if (error instanceof AccountError && (error.code === 'bad-address' || error.code === 'weak-password'))
        throw new UsageError(error.message);
      if (error instanceof AccountError) {
        ctx.stderr.write(`hermod user: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
