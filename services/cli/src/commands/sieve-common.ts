import { AccountStore } from '@hermod/accounts';
import { migrate } from '@hermod/db';
import { defaultSieveLimits, type ScriptOwner, SieveScripts } from '@hermod/sieve-store';
import { type CliContext, UsageError } from '../command.js';

/** The script store and the account an address names (its primary address or an alias). */
export async function sieveOwner(
  ctx: CliContext,
  address: string,
): Promise<{ scripts: SieveScripts; owner: ScriptOwner; address: string }> {
  const pool = await ctx.db();
  await migrate(pool);
  const account = await new AccountStore(pool).findByAddress(address);
  if (!account) throw new UsageError(`no account has the address ${address}`);
  return {
    scripts: new SieveScripts(pool, defaultSieveLimits),
    owner: { id: account.id, domain: account.domain },
    address: account.address,
  };
}

export async function sieveStore(ctx: CliContext): Promise<SieveScripts> {
  const pool = await ctx.db();
  await migrate(pool);
  return new SieveScripts(pool, defaultSieveLimits);
}

/** All of stdin as text (a script or a message body). */
export async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
