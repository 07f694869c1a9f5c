import { createHash } from 'node:crypto';
import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import {
  ALL_SCRIPT_INPUTS,
  compiledInputs,
  deserializeCompiled,
  serializeCompiled,
  withInputs,
} from '@hermod/sieve';
import { defaultAfterScript } from './default-scripts.js';
import { SieveScriptError } from './errors.js';

/** A pool or a checked-out client: every statement here is a single, self-contained one. */
export type Queryable = Pool | PoolClient;

export interface ScriptSummary {
  name: string;
  active: boolean;
}

export interface StoredScript extends ScriptSummary {
  source: string;
  compiled: string;
}

export type GlobalPhase = 'before' | 'after' | 'library';

export interface GlobalScript {
  domain: string;
  name: string;
  phase: GlobalPhase;
  source: string;
  compiled: string;
}

/**
 * One script delivery runs, known by the digest of its compiled form (md5, the `compiled_digest` column):
 * either what the caller's cache holds for that digest (`cached`) or, when it holds nothing, the compiled
 * form itself (`compiled`, serializeCompiled's text).
 */
export interface DeliveryScript<T> {
  digest: string;
  cached?: T;
  compiled?: string;
}

/** What delivery runs for one account: its active script and its domain's before/after scripts. */
export interface DeliveryScripts<T = never> {
  accountId: number;
  address: string;
  /** The account's further addresses (account_addresses): the user's too for vacation (RFC 5230 4.5). */
  aliases: string[];
  domain: string;
  before?: DeliveryScript<T>;
  personal?: DeliveryScript<T>;
  /** The domain's after script, or the default after-script when it has none. */
  after: DeliveryScript<T>;
}

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === '23505';

/** All of an account's scripts, with source (ManageSieve LISTSCRIPTS uses only name and active). */
export async function listScripts(db: Queryable, accountId: number): Promise<StoredScript[]> {
  const { rows } = await db.query<StoredScript>(
    'SELECT name, active, source, compiled FROM sieve_scripts WHERE account_id = $1 ORDER BY name',
    [accountId],
  );
  return rows;
}

export async function getScript(
  db: Queryable,
  accountId: number,
  name: string,
): Promise<StoredScript | undefined> {
  const { rows } = await db.query<StoredScript>(
    'SELECT name, active, source, compiled FROM sieve_scripts WHERE account_id = $1 AND name = $2',
    [accountId, name],
  );
  return rows[0];
}

/**
 * Stores a script (replacing one of the same name, keeping its active flag) unless the account would
 * then hold more than maxScripts (count and write in one statement; two uploads racing for the last
 * slot may both pass: the limit guards against abuse, it is not an invariant).
 */
export async function saveScript(
  db: Queryable,
  accountId: number,
  name: string,
  source: string,
  compiled: string,
  maxScripts: number,
): Promise<void> {
  const { rowCount } = await db.query(
    `INSERT INTO sieve_scripts (account_id, name, source, compiled)
     SELECT $1, $2, $3, $4
     WHERE EXISTS (SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2)
        OR (SELECT count(*) FROM sieve_scripts WHERE account_id = $1) < $5
     ON CONFLICT (account_id, name) DO UPDATE
       SET source = EXCLUDED.source, compiled = EXCLUDED.compiled, updated_at = now()`,
    [accountId, name, source, compiled, maxScripts],
  );
  if (rowCount === 0)
    throw new SieveScriptError('quota-max-scripts', `at most ${maxScripts} scripts per account`);
}

/** Makes name the one active script, or deactivates all with name ''. */
export async function activateScript(db: Queryable, accountId: number, name: string): Promise<void> {
  // One statement: the old active script is switched off and the new one on together, so the partial
  // unique index is never violated mid-way and a concurrent reader sees one or the other.
  const { rows } = await db.query<{ found: boolean }>(
    `WITH target AS (SELECT name FROM sieve_scripts WHERE account_id = $1 AND name = $2),
     changed AS (
       UPDATE sieve_scripts SET active = (name = $2)
       WHERE account_id = $1 AND (active OR name = $2) AND ($2 = '' OR EXISTS (SELECT 1 FROM target))
       RETURNING 1)
     SELECT $2 = '' OR EXISTS (SELECT 1 FROM target) AS found, (SELECT count(*) FROM changed) AS n`,
    [accountId, name],
  );
  if (!rows[0]?.found) throw new SieveScriptError('nonexistent', `there is no script named "${name}"`);
}

/** Deletes an inactive script. */
export async function deleteScript(db: Queryable, accountId: number, name: string): Promise<void> {
  const { rows } = await db.query<{ active: boolean; deleted: boolean }>(
    `WITH found AS (SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2),
     gone AS (DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2 AND NOT active RETURNING 1)
     SELECT (SELECT active FROM found) AS active, EXISTS (SELECT 1 FROM gone) AS deleted`,
    [accountId, name],
  );
  const row = rows[0];
  if (row?.deleted) return;
  if (row?.active) throw new SieveScriptError('active', `"${name}" is the active script`);
  throw new SieveScriptError('nonexistent', `there is no script named "${name}"`);
}

export async function renameScript(
  db: Queryable,
  accountId: number,
  from: string,
  to: string,
): Promise<void> {
  try {
    const { rowCount } = await db.query(
      'UPDATE sieve_scripts SET name = $3, updated_at = now() WHERE account_id = $1 AND name = $2',
      [accountId, from, to],
    );
    if (rowCount === 0) throw new SieveScriptError('nonexistent', `there is no script named "${from}"`);
  } catch (error) {
    if (isUniqueViolation(error))
      throw new SieveScriptError('already-exists', `a script named "${to}" exists already`);
    throw error;
  }
}

/** How many scripts the account has and whether name is one of them (HAVESPACE). */
export async function scriptUsage(
  db: Queryable,
  accountId: number,
  name: string,
): Promise<{ count: number; exists: boolean }> {
  const { rows } = await db.query<{ count: number; exists: boolean }>(
    `SELECT count(*)::int AS count, bool_or(name = $2) IS TRUE AS exists FROM sieve_scripts WHERE account_id = $1`,
    [accountId, name],
  );
  return rows[0] ?? { count: 0, exists: false };
}

export async function listGlobalScripts(db: Queryable, domain: string): Promise<GlobalScript[]> {
  const { rows } = await db.query<GlobalScript>(
    'SELECT domain, name, phase, source, compiled FROM sieve_global_scripts WHERE domain = $1 ORDER BY name',
    [domain],
  );
  return rows;
}

const managedRefusal = (domain: string, owner: string) =>
  new SieveScriptError(
    'managed',
    `the global scripts of ${domain} are set by ${owner.replace(/^operator:/, 'MailDomain ')} (spec.sieve); change them there`,
  );

/**
 * Stores a domain's global script; a 'before' or 'after' script replaces the domain's previous one.
 * Refused (nothing written) while a MailDomain sets the domain's global scripts.
 */
export async function saveGlobalScript(db: Queryable, script: GlobalScript): Promise<void> {
  const { rows } = await db.query<{ owner: string | null }>(
    `WITH owner AS (SELECT owner FROM sieve_global_owners WHERE domain = $1),
     cleared AS (
       DELETE FROM sieve_global_scripts WHERE domain = $1 AND phase = $3 AND phase <> 'library' AND name <> $2
         AND NOT EXISTS (SELECT 1 FROM owner)),
     saved AS (
       INSERT INTO sieve_global_scripts (domain, name, phase, source, compiled)
       SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM owner)
       ON CONFLICT (domain, name) DO UPDATE
         SET phase = EXCLUDED.phase, source = EXCLUDED.source, compiled = EXCLUDED.compiled, updated_at = now()
       RETURNING 1)
     SELECT (SELECT owner FROM owner) AS owner`,
    [script.domain, script.name, script.phase, script.source, script.compiled],
  );
  const owner = rows[0]?.owner;
  if (owner) throw managedRefusal(script.domain, owner);
}

export async function deleteGlobalScript(db: Queryable, domain: string, name: string): Promise<void> {
  const { rows } = await db.query<{ owner: string | null; deleted: boolean }>(
    `WITH owner AS (SELECT owner FROM sieve_global_owners WHERE domain = $1),
     gone AS (DELETE FROM sieve_global_scripts WHERE domain = $1 AND name = $2
       AND NOT EXISTS (SELECT 1 FROM owner) RETURNING 1)
     SELECT (SELECT owner FROM owner) AS owner, EXISTS (SELECT 1 FROM gone) AS deleted`,
    [domain, name],
  );
  const owner = rows[0]?.owner;
  if (owner) throw managedRefusal(domain, owner);
  if (!rows[0]?.deleted)
    throw new SieveScriptError('nonexistent', `there is no global script named "${name}"`);
}

/** Who sets a domain's global scripts: a MailDomain (its live config's source), or undefined for the CLI. */
export async function globalScriptsOwner(db: Queryable, domain: string): Promise<string | undefined> {
  const { rows } = await db.query<{ owner: string }>(
    'SELECT owner FROM sieve_global_owners WHERE domain = $1',
    [domain],
  );
  return rows[0]?.owner;
}

/**
 * Makes a domain's global scripts exactly `scripts`, set by `owner` (a MailDomain), or, with
 * scripts undefined, ends a MailDomain's ownership: the scripts it set are deleted and the CLI
 * manages the domain again. Idempotent and level-based (every mda replica may run it for every
 * change it sees): returns false, having written nothing, when the tables already say so.
 */
export async function replaceOwnedGlobalScripts(
  pool: Pool,
  domain: string,
  owned: { owner: string; scripts: GlobalScript[] } | undefined,
): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    // Serialises replicas syncing the same domain (the owner row may not exist yet).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sieve-global:${domain}`]);
    const [{ rows: owners }, current] = await Promise.all([
      client.query<{ owner: string }>('SELECT owner FROM sieve_global_owners WHERE domain = $1', [domain]),
      listGlobalScripts(client, domain),
    ]);
    if (!owned) {
      if (owners.length === 0) return false;
      await client.query('DELETE FROM sieve_global_scripts WHERE domain = $1', [domain]);
      await client.query('DELETE FROM sieve_global_owners WHERE domain = $1', [domain]);
      return true;
    }
    const key = (list: GlobalScript[]) => JSON.stringify(list.map((g) => [g.name, g.phase, g.source]).sort());
    if (owners[0]?.owner === owned.owner && key(current) === key(owned.scripts)) return false;
    await client.query(
      `INSERT INTO sieve_global_owners (domain, owner) VALUES ($1, $2)
       ON CONFLICT (domain) DO UPDATE SET owner = EXCLUDED.owner, updated_at = now()`,
      [domain, owned.owner],
    );
    await client.query('DELETE FROM sieve_global_scripts WHERE domain = $1', [domain]);
    for (const g of owned.scripts)
      await client.query(
        'INSERT INTO sieve_global_scripts (domain, name, phase, source, compiled) VALUES ($1, $2, $3, $4, $5)',
        [domain, g.name, g.phase, g.source, g.compiled],
      );
    return true;
  });
}

/** Domains whose global scripts a MailDomain set (to end the ownership of domains no longer configured). */
export async function ownedGlobalDomains(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ domain: string }>(
    'SELECT domain FROM sieve_global_owners ORDER BY domain',
  );
  return rows.map((r) => r.domain);
}

/** md5 of the default after-script's compiled form (as PostgreSQL's md5() of a stored one). */
let defaultAfterDigest: string | undefined;
const defaultAfter = (): { digest: string; compiled: string } => {
  const compiled = defaultAfterScript();
  defaultAfterDigest ??= createHash('md5').update(compiled, 'utf8').digest('hex');
  return { digest: defaultAfterDigest, compiled };
};

/**
 * The scripts delivery runs for these accounts: the domain's before script, the account's active
 * script, and the domain's after script or, for a domain without one, the default after-script (spam
 * to Junk, default-scripts.ts). Every existing account is in the result.
 *
 * One query reads the digests; `cached` answers from the caller's cache (it is asked once per digest,
 * so what it returns stays valid for this batch); a second query reads the compiled forms of the
 * digests it did not know, only when there are any.
 */
export async function loadDeliveryScripts<T = never>(
  db: Queryable,
  accountIds: number[],
  cached: (digest: string) => T | undefined = () => undefined,
  attempt = 1,
): Promise<Map<number, DeliveryScripts<T>>> {
  const { rows } = await db.query<DeliveryScriptDigests>(deliveryScriptDigestsSql('$1'), [accountIds]);
  return resolveDeliveryScripts(db, accountIds, rows, cached, attempt);
}

/** One account's script digests, as loadDeliveryScripts' first query reads them. */
export interface DeliveryScriptDigests {
  id: number;
  address: string;
  aliases: string[];
  domain: string;
  personal: string | null;
  before: string | null;
  after: string | null;
  /**
   * What the account's scripts can read together (@hermod/sieve SCRIPT_INPUTS bits; every bit for a
   * script compiled before they were recorded).
   */
  inputs: number;
}

let defaultAfterInputs: number | undefined;
const defaultInputs = (): number => {
  defaultAfterInputs ??= compiledInputs(deserializeCompiled(defaultAfterScript()));
  return defaultAfterInputs;
};

/**
 * loadDeliveryScripts' first query, over the account ids in the bigint[] parameter `param` (such as
 * '$1'): for a caller that reads the digests together with other things in one statement and hands
 * the rows to resolveDeliveryScripts.
 */
export const deliveryScriptDigestsSql = (param: string): string =>
  `SELECT a.id, a.address,
          ARRAY(SELECT x.address FROM account_addresses x WHERE x.account_id = a.id ORDER BY x.address) AS aliases,
          a.domain, p.compiled_digest AS personal, b.compiled_digest AS before,
          f.compiled_digest AS after,
          CASE WHEN p.compiled_digest IS NULL THEN 0 ELSE COALESCE(p.inputs, ${ALL_SCRIPT_INPUTS}) END
          | CASE WHEN b.compiled_digest IS NULL THEN 0 ELSE COALESCE(b.inputs, ${ALL_SCRIPT_INPUTS}) END
          | CASE WHEN f.compiled_digest IS NULL THEN ${defaultInputs()} ELSE COALESCE(f.inputs, ${ALL_SCRIPT_INPUTS}) END
            AS inputs
     FROM accounts a
     LEFT JOIN sieve_scripts p ON p.account_id = a.id AND p.active
     LEFT JOIN sieve_global_scripts b ON b.domain = a.domain AND b.phase = 'before'
     LEFT JOIN sieve_global_scripts f ON f.domain = a.domain AND f.phase = 'after'
     WHERE a.id = ANY(${param}::bigint[])`;

/** loadDeliveryScripts from digest rows already read (deliveryScriptDigestsSql). */
export async function resolveDeliveryScripts<T = never>(
  db: Queryable,
  accountIds: number[],
  rows: DeliveryScriptDigests[],
  cached: (digest: string) => T | undefined = () => undefined,
  attempt = 1,
): Promise<Map<number, DeliveryScripts<T>>> {
  const known = new Map<string, T | undefined>();
  const lookup = (digest: string) => {
    if (!known.has(digest)) known.set(digest, cached(digest));
    return known.get(digest);
  };
  const missing = new Set<string>();
  for (const r of rows)
    for (const digest of [r.personal, r.before, r.after])
      if (digest !== null && lookup(digest) === undefined) missing.add(digest);
  // The compiled forms of new digests, from the rows that had them (a script replaced since the first
  // query has a new digest: its text is not found here, and the load starts again).
  const texts = new Map<string, string>();
  if (missing.size > 0) {
    const { rows: found } = await db.query<{ digest: string; compiled: string }>(
      `SELECT compiled_digest AS digest, compiled FROM sieve_scripts
        WHERE account_id = ANY($1::bigint[]) AND active AND compiled_digest = ANY($3::text[])
       UNION ALL
       SELECT compiled_digest, compiled FROM sieve_global_scripts
        WHERE domain = ANY($2::text[]) AND phase <> 'library' AND compiled_digest = ANY($3::text[])`,
      [accountIds, [...new Set(rows.map((r) => r.domain))], [...missing]],
    );
    for (const f of found) texts.set(f.digest, f.compiled);
    if (texts.size < missing.size) {
      if (attempt >= 3) throw new Error('Sieve scripts kept changing while delivery read them');
      return loadDeliveryScripts(db, accountIds, cached, attempt + 1);
    }
  }
  const script = (digest: string): DeliveryScript<T> => {
    const hit = lookup(digest);
    if (hit !== undefined) return { digest, cached: hit };
    return { digest, compiled: texts.get(digest)! };
  };
  const out = new Map<number, DeliveryScripts<T>>();
  for (const r of rows) {
    let after: DeliveryScript<T>;
    if (r.after !== null) after = script(r.after);
    else {
      const d = defaultAfter();
      const hit = lookup(d.digest);
      after = hit !== undefined ? { digest: d.digest, cached: hit } : d;
    }
    out.set(Number(r.id), {
      accountId: Number(r.id),
      address: r.address,
      aliases: r.aliases ?? [],
      domain: r.domain,
      ...(r.before !== null ? { before: script(r.before) } : {}),
      ...(r.personal !== null ? { personal: script(r.personal) } : {}),
      after,
    });
  }
  return out;
}

/**
 * Records the inputs of scripts compiled before they were (migration 086: until then delivery reads
 * everything for them), from their compiled forms, a page at a time; a script replaced meanwhile
 * (another digest) and a form that cannot be read are left as they are. Returns how many it updated.
 */
export async function recordMissingScriptInputs(db: Queryable): Promise<number> {
  let updated = 0;
  const tables = [
    { table: 'sieve_scripts', owner: 'account_id::text' },
    { table: 'sieve_global_scripts', owner: 'domain' },
  ] as const;
  for (const { table, owner } of tables) {
    let after = ['', ''];
    for (;;) {
      const { rows } = await db.query<{ owner: string; name: string; compiled: string; digest: string }>(
        `SELECT ${owner} AS owner, name, compiled, compiled_digest AS digest FROM ${table}
          WHERE inputs IS NULL AND (${owner}, name) > ($1, $2) ORDER BY ${owner}, name LIMIT 200`,
        after,
      );
      for (const r of rows) {
        let compiled: string;
        try {
          compiled = serializeCompiled(withInputs(deserializeCompiled(r.compiled)));
        } catch {
          continue;
        }
        const { rowCount } = await db.query(
          `UPDATE ${table} SET compiled = $4 WHERE ${owner} = $1 AND name = $2 AND compiled_digest = $3`,
          [r.owner, r.name, r.digest, compiled],
        );
        updated += rowCount ?? 0;
      }
      if (rows.length < 200) break;
      after = [rows.at(-1)!.owner, rows.at(-1)!.name];
    }
  }
  return updated;
}
