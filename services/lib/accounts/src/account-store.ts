import { parseAddress } from '@hermod/address';
import { type Pool, withTransaction } from '@hermod/db';
import { accountUsage, createDefaultMailboxes } from '@hermod/mail-store';
import {
  type AppPasswordInfo,
  deleteAppPassword,
  insertAppPassword,
  type LoginScope,
  matchAppPassword,
  selectAppPasswords,
} from './app-passwords.js';
import { AccountError } from './errors.js';
import {
  applyMailGroup,
  applyManagedAccount,
  askedByCanonical,
  type DeletionPolicy,
  findGroups,
  type MailGroup,
  type MailGroupInput,
  type ManagedAccountInput,
  managedError,
  releaseManagedAccount,
  removeMailGroup,
} from './managed.js';
import { checkPasswordStrength, hashPassword, needsRehash, verifyPassword } from './password.js';
import {
  accountLimitOverrides,
  resumeSending,
  type SendingSuspension,
  type StoredLimitOverrides,
  type SubmissionLimitOverrides,
  type SuspendOutcome,
  setAccountLimitOverrides,
  suspendSending,
} from './sending-policy.js';

export { AccountError, type AccountErrorCode } from './errors.js';

export interface Account {
  id: number;
  address: string;
  domain: string;
  quotaBytes: number | null;
  disabled: boolean;
  aliases: string[];
  displayName: string | null;
  /** The Kubernetes resource that owns the account ('MailUser <namespace>/<name>'), if any. */
  managedBy: string | null;
  /** Addresses every message is forwarded to. */
  forwardTo: string[];
  /** With forwardTo: whether the account keeps its own copy as well. */
  forwardKeepCopy: boolean;
  /** Addresses the account may send as (besides its own and its aliases). */
  sendAs: string[];
}

type AccountRow = {
  id: number;
  address: string;
  domain: string;
  quota_bytes: number | null;
  disabled: boolean;
  aliases: string[] | null;
  display_name: string | null;
  managed_by: string | null;
  forward_to: string[];
  forward_keep_copy: boolean;
  send_as: string[];
};

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  address: r.address,
  domain: r.domain,
  quotaBytes: r.quota_bytes,
  disabled: r.disabled,
  aliases: r.aliases ?? [],
  displayName: r.display_name,
  managedBy: r.managed_by,
  forwardTo: r.forward_to,
  forwardKeepCopy: r.forward_keep_copy,
  sendAs: r.send_as,
});

/** The columns of an Account row (without aliases), for every SELECT that builds one. */
export const accountColumns =
  'a.id, a.address, a.domain, a.quota_bytes, a.disabled, a.display_name, a.managed_by, a.forward_to, a.forward_keep_copy, a.send_as';

const selectAccount = `SELECT ${accountColumns},
  (SELECT array_agg(x.address ORDER BY x.address) FROM account_addresses x WHERE x.account_id = a.id) AS aliases
  FROM accounts a`;

/** A login name resolved (see AccountStore.resolveLogin); opaque outside this package. */
export interface LoginCandidate {
  /** The throttle key the attempt counts against. */
  readonly key: string;
  /** @internal */
  readonly row?: AccountRow & { password_hash: string; password_scopes: LoginScope[] | null };
}

// Verifying against this when the user is unknown makes a wrong user cost as much as a wrong password.
let dummyHash: Promise<string> | undefined;

export class AccountStore {
  constructor(private readonly pool: Pool) {}

  private canonical(address: string): string {
    try {
      return parseAddress(address).canonical;
    } catch (error) {
      throw new AccountError('bad-address', `${address}: ${(error as Error).message}`);
    }
  }

  async create(input: { address: string; password: string; quotaBytes?: number }): Promise<Account> {
    const address = this.canonical(input.address);
    checkPasswordStrength(input.password);
    const passwordHash = await hashPassword(input.password);
    return withTransaction(this.pool, async (client) => {
      const taken = await client.query<{ what: string }>(
        `SELECT 'an alias of another account' AS what FROM account_addresses WHERE address = $1
         UNION ALL SELECT 'a group' FROM mail_groups WHERE address = $1`,
        [address],
      );
      if (taken.rows[0]) throw new AccountError('exists', `${address} is already ${taken.rows[0].what}`);
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO accounts (address, domain, password_hash, quota_bytes) VALUES ($1, $2, $3, $4)
         ON CONFLICT (address) DO NOTHING RETURNING id`,
        [address, address.split('@')[1], passwordHash, input.quotaBytes ?? null],
      );
      if (!rows[0]) throw new AccountError('exists', `${address} already exists`);
      await createDefaultMailboxes(client, rows[0].id);
      const created = await client.query<AccountRow>(`${selectAccount} WHERE a.id = $1`, [rows[0].id]);
      return toAccount(created.rows[0]!);
    });
  }

  /**
   * Refuses to change an account a Kubernetes resource owns (the CLI's changes would be undone by
   * the operator at its next reconcile): the error names the resource to change instead.
   */
  private async assertNotManaged(address: string): Promise<void> {
    const { rows } = await this.pool.query<{ address: string; managed_by: string | null }>(
      `SELECT a.address, a.managed_by FROM accounts a
       WHERE a.address = $1 OR a.id = (SELECT account_id FROM account_addresses WHERE address = $1)`,
      [this.canonical(address)],
    );
    const owner = rows[0]?.managed_by;
    if (owner) throw managedError(rows[0]?.address ?? address, owner);
  }

  async setPassword(address: string, password: string): Promise<void> {
    checkPasswordStrength(password);
    await this.assertNotManaged(address);
    const { rowCount } = await this.pool.query(
      'UPDATE accounts SET password_hash = $2, updated_at = now() WHERE address = $1',
      [this.canonical(address), await hashPassword(password)],
    );
    if (!rowCount) throw new AccountError('not-found', `no account ${address}`);
  }

  async remove(address: string): Promise<void> {
    await this.assertNotManaged(address);
    const { rowCount } = await this.pool.query('DELETE FROM accounts WHERE address = $1', [
      this.canonical(address),
    ]);
    if (!rowCount) throw new AccountError('not-found', `no account ${address}`);
  }

  async list(domain?: string): Promise<Account[]> {
    const { rows } = domain
      ? await this.pool.query<AccountRow>(`${selectAccount} WHERE a.domain = $1 ORDER BY a.address`, [
          domain.toLowerCase(),
        ])
      : await this.pool.query<AccountRow>(`${selectAccount} ORDER BY a.address`);
    return rows.map(toAccount);
  }

  async addAlias(accountAddress: string, alias: string): Promise<void> {
    const canonicalAlias = this.canonical(alias);
    const account = await this.findByAddress(accountAddress);
    if (!account) throw new AccountError('not-found', `no account ${accountAddress}`);
    if (account.managedBy) throw managedError(account.address, account.managedBy);
    if ((await findGroups(this.pool, [canonicalAlias])).size > 0)
      throw new AccountError('exists', `${canonicalAlias} is a group`);
    const clash = await this.findByAddress(canonicalAlias);
    if (clash) throw new AccountError('exists', `${canonicalAlias} already belongs to ${clash.address}`);
    await this.pool.query('INSERT INTO account_addresses (address, account_id) VALUES ($1, $2)', [
      canonicalAlias,
      account.id,
    ]);
  }

  /** The account that owns address, as its primary address or one of its aliases. */
  async findByAddress(address: string): Promise<Account | undefined> {
    return (await this.findByAddresses([address])).get(address);
  }

  /**
   * The accounts of many addresses in one statement: a map from each address asked for (as given)
   * to its account; unknown and unparsable addresses are absent.
   */
  async findByAddresses(addresses: string[]): Promise<Map<string, Account>> {
    const asked = askedByCanonical(addresses);
    const found = new Map<string, Account>();
    if (asked.size === 0) return found;
    const { rows } = await this.pool.query<AccountRow & { asked: string }>(
      `SELECT q.asked, a.* FROM unnest($1::text[]) AS q(asked)
       CROSS JOIN LATERAL (${selectAccount}
         WHERE a.address = q.asked OR a.id = (SELECT account_id FROM account_addresses WHERE address = q.asked)
         LIMIT 1) AS a`,
      [[...asked.keys()]],
    );
    for (const row of rows)
      for (const address of asked.get(row.asked) ?? []) found.set(address, toAccount(row));
    return found;
  }

  /**
   * What a login name resolves to, with the throttle key it counts against: `account:<id>` for an
   * account (whichever spelling or alias named it), `address:<canonical>` for a well-formed address
   * of no account, `name:<NFKC, lower case>` for anything else. One query either way.
   */
  async resolveLogin(username: string): Promise<LoginCandidate> {
    let canonical: string | undefined;
    try {
      canonical = parseAddress(username).canonical;
    } catch {
      canonical = undefined;
    }
    const { rows } = canonical
      ? await this.pool.query<AccountRow & { password_hash: string; password_scopes: LoginScope[] | null }>({
          name: 'accounts-resolve-login',
          text: `SELECT ${accountColumns}, a.password_hash, a.password_scopes,
             NULL::text[] AS aliases
           FROM accounts a WHERE a.address = $1 OR a.id = (SELECT account_id FROM account_addresses WHERE address = $1)`,
          values: [canonical],
        })
      : { rows: [] };
    const row = rows[0];
    if (row) return { key: `account:${row.id}`, row };
    return { key: canonical ? `address:${canonical}` : `name:${username.normalize('NFKC').toLowerCase()}` };
  }

  /**
   * The password check of a resolved login for one scope (protocol): one of the account's app
   * passwords allowed for that scope and not expired, or the main password if it is allowed for
   * that scope. Unknown users and wrong passwords take the same time and give the same answer.
   */
  async verifyLogin(
    candidate: LoginCandidate,
    password: string,
    scope: LoginScope,
  ): Promise<Account | undefined> {
    const row = candidate.row;
    if (row) {
      const app = await matchAppPassword(this.pool, row.id, password, scope);
      if (app !== undefined) return app && !row.disabled ? toAccount(row) : undefined;
    }
    if (!row) {
      dummyHash ??= hashPassword('not-a-real-password-for-timing');
      await verifyPassword(await dummyHash, password);
      return undefined;
    }
    const ok = await verifyPassword(row.password_hash, password);
    if (!ok || row.disabled) return undefined;
    if (row.password_scopes && !row.password_scopes.includes(scope)) return undefined;
    if (needsRehash(row.password_hash)) {
      // Upgrade an older hash now that the password is known; only if nobody changed it meanwhile.
      await this.pool.query(
        'UPDATE accounts SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2',
        [row.id, row.password_hash, await hashPassword(password)],
      );
    }
    return toAccount(row);
  }

  /** The account a candidate names, if it exists and is enabled (a login proven by other means, e.g. SSO). */
  accountFor(candidate: LoginCandidate): Account | undefined {
    const row = candidate.row;
    return row && !row.disabled ? toAccount(row) : undefined;
  }

  /**
   * Checks a login without throttling (services log in through LoginGate). The username is the
   * account's primary address or one of its aliases.
   */
  async authenticate(username: string, password: string, scope: LoginScope): Promise<Account | undefined> {
    return this.verifyLogin(await this.resolveLogin(username), password, scope);
  }

  private async accountId(address: string): Promise<number> {
    const account = await this.findByAddress(address);
    if (!account) throw new AccountError('not-found', `no account ${address}`);
    return account.id;
  }

  /**
   * A new app password for the account, usable only for the given scopes (and until expiresAt);
   * returns the secret, which is shown once and stored only as a digest.
   */
  async addAppPassword(
    address: string,
    input: { name: string; scopes: LoginScope[]; expiresAt?: Date },
  ): Promise<string> {
    if (!/^[\x21-\x7e]{1,64}$/.test(input.name))
      throw new AccountError('bad-address', 'an app password name is 1 to 64 visible ASCII characters');
    if (input.scopes.length === 0) throw new AccountError('bad-address', 'an app password needs a scope');
    const secret = await insertAppPassword(this.pool, await this.accountId(address), input);
    if (!secret)
      throw new AccountError('exists', `${address} already has an app password named ${input.name}`);
    return secret;
  }

  async listAppPasswords(address: string): Promise<AppPasswordInfo[]> {
    return selectAppPasswords(this.pool, await this.accountId(address));
  }

  async revokeAppPassword(address: string, name: string): Promise<void> {
    if (!(await deleteAppPassword(this.pool, await this.accountId(address), name)))
      throw new AccountError('not-found', `${address} has no app password named ${name}`);
  }

  /** Restricts the main password to some scopes (null: every scope). */
  async setPasswordScopes(address: string, scopes: LoginScope[] | null): Promise<void> {
    await this.pool.query('UPDATE accounts SET password_scopes = $2, updated_at = now() WHERE id = $1', [
      await this.accountId(address),
      scopes,
    ]);
  }

  /** Disables the account (no login of any kind) or enables it again. */
  async setDisabled(address: string, disabled: boolean): Promise<void> {
    await this.pool.query('UPDATE accounts SET disabled = $2, updated_at = now() WHERE id = $1', [
      await this.accountId(address),
      disabled,
    ]);
  }

  /** Suspends the account's sending (see suspendSending); suspended false if it already was. */
  async suspendSending(address: string, reason: string): Promise<SuspendOutcome> {
    return suspendSending(this.pool, await this.accountId(address), reason);
  }

  /** Lifts the account's sending suspension; false if it was not suspended. */
  async resumeSending(address: string): Promise<boolean> {
    return resumeSending(this.pool, await this.accountId(address));
  }

  async sendingSuspension(address: string): Promise<SendingSuspension | undefined> {
    const { rows } = await this.pool.query<{ since: Date | null; reason: string | null }>(
      'SELECT sending_suspended_at AS since, sending_suspended_reason AS reason FROM accounts WHERE id = $1',
      [await this.accountId(address)],
    );
    const row = rows[0];
    return row?.since ? { since: row.since, reason: row.reason ?? '' } : undefined;
  }

  /** Changes the named submission-limit overrides of the account (null: inherit); returns them all. */
  async setLimitOverrides(
    address: string,
    overrides: SubmissionLimitOverrides,
  ): Promise<StoredLimitOverrides> {
    return setAccountLimitOverrides(this.pool, await this.accountId(address), overrides);
  }

  async limitOverrides(address: string): Promise<StoredLimitOverrides> {
    return accountLimitOverrides(this.pool, await this.accountId(address));
  }

  /** Creates or converges an account a Kubernetes resource declares (see managed.ts). */
  applyManaged(owner: string, input: ManagedAccountInput, options: { adopt: boolean }) {
    return applyManagedAccount(this.pool, owner, input, options);
  }

  /** A resource's account going away: deleted with its mail, or kept disabled and unowned. */
  releaseManaged(owner: string, address: string, policy: DeletionPolicy) {
    return releaseManagedAccount(this.pool, owner, address, policy);
  }

  applyGroup(owner: string, input: MailGroupInput, options: { adopt: boolean }) {
    return applyMailGroup(this.pool, owner, input, options);
  }

  removeGroup(owner: string, address: string) {
    return removeMailGroup(this.pool, owner, address);
  }

  /** The groups of many addresses in one statement (unknown and unparsable ones are absent). */
  findGroups(addresses: string[]): Promise<Map<string, MailGroup>> {
    return findGroups(this.pool, addresses);
  }

  /** Bytes and messages an account stores (what its quota counts). */
  usage(accountId: number): Promise<{ bytes: number; messages: number }> {
    return accountUsage(this.pool, accountId);
  }

  /**
   * Whether the account may use address as a sender: its primary address, one of its aliases, or
   * an address it was given send-as rights for.
   */
  async maySendAs(accountId: number, address: string): Promise<boolean> {
    if (await this.ownsAddress(accountId, address)) return true;
    let canonical: string;
    try {
      canonical = parseAddress(address).canonical;
    } catch {
      return false;
    }
    const { rowCount } = await this.pool.query('SELECT 1 FROM accounts WHERE id = $1 AND $2 = ANY(send_as)', [
      accountId,
      canonical,
    ]);
    return (rowCount ?? 0) > 0;
  }

  /** Whether the account may use address as a sender (its primary address or one of its aliases). */
  async ownsAddress(accountId: number, address: string): Promise<boolean> {
    let canonical: string;
    try {
      canonical = parseAddress(address).canonical;
    } catch {
      return false;
    }
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM accounts WHERE id = $1 AND address = $2
       UNION ALL SELECT 1 FROM account_addresses WHERE account_id = $1 AND address = $2`,
      [accountId, canonical],
    );
    return (rowCount ?? 0) > 0;
  }
}
