import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '@hermod/db';

/** What a login is for: the protocol a password may be used with. */
export const loginScopes = ['imap', 'pop3', 'submission', 'managesieve'] as const;
export type LoginScope = (typeof loginScopes)[number];

export const isLoginScope = (value: string): value is LoginScope =>
  (loginScopes as readonly string[]).includes(value);

export interface AppPasswordInfo {
  name: string;
  scopes: LoginScope[];
  expiresAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** A new secret: 120 random bits as 4 groups of 6 lower-case letters and digits (no look-alikes). */
export function generateAppSecret(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(24);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return [0, 6, 12, 18].map((i) => chars.slice(i, i + 6).join('')).join('-');
}

/** The scope check of one app password, or undefined when password is none of the account's. */
export async function matchAppPassword(
  pool: Pool,
  accountId: number,
  password: string,
  scope: LoginScope,
): Promise<boolean | undefined> {
  const { rows } = await pool.query<{ id: number; usable: boolean }>({
    name: 'accounts-match-app-password',
    text: `SELECT id, ($3 = ANY(scopes) AND (expires_at IS NULL OR expires_at > now())) AS usable
     FROM app_passwords WHERE account_id = $1 AND secret_sha256 = $2`,
    values: [accountId, digest(password), scope],
  });
  const row = rows[0];
  if (!row) return undefined;
  if (row.usable) await pool.query('UPDATE app_passwords SET last_used_at = now() WHERE id = $1', [row.id]);
  return row.usable;
}

export async function insertAppPassword(
  pool: Pool,
  accountId: number,
  input: { name: string; scopes: LoginScope[]; expiresAt?: Date },
): Promise<string | undefined> {
  const secret = generateAppSecret();
  const { rowCount } = await pool.query(
    `INSERT INTO app_passwords (account_id, name, secret_sha256, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, name) DO NOTHING`,
    [accountId, input.name, digest(secret), input.scopes, input.expiresAt ?? null],
  );
  return rowCount ? secret : undefined;
}

export async function selectAppPasswords(pool: Pool, accountId: number): Promise<AppPasswordInfo[]> {
  const { rows } = await pool.query<{
    name: string;
    scopes: LoginScope[];
    expires_at: Date | null;
    created_at: Date;
    last_used_at: Date | null;
  }>(
    'SELECT name, scopes, expires_at, created_at, last_used_at FROM app_passwords WHERE account_id = $1 ORDER BY name',
    [accountId],
  );
  return rows.map((r) => ({
    name: r.name,
    scopes: r.scopes,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  }));
}

export async function deleteAppPassword(pool: Pool, accountId: number, name: string): Promise<boolean> {
  const { rowCount } = await pool.query('DELETE FROM app_passwords WHERE account_id = $1 AND name = $2', [
    accountId,
    name,
  ]);
  return (rowCount ?? 0) > 0;
}
