import { hash, verify } from '@node-rs/argon2';
import { AccountError } from './errors.js';

// argon2id with OWASP's recommended minimum (19 MiB, 2 passes): memory-hard against GPU guessing.
const options = {
  algorithm: 2 /* Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax) */,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** The one password rule of accounts (CLI and operator alike): at least 8 characters. */
export function checkPasswordStrength(password: string): void {
  if (password.length < 8) throw new AccountError('weak-password', 'password must be at least 8 characters');
}

/** Whether a value is an argon2 PHC hash (as `hermod` writes them) rather than a password. */
export function isArgon2Hash(value: string): boolean {
  return /^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.test(value);
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, options);
}

/** The PHC prefix of a hash made with the current parameters. */
const currentPrefix = `$argon2id$v=19$m=${options.memoryCost},t=${options.timeCost},p=${options.parallelism}$`;

/** Whether a stored hash was made with other (older) parameters and should be replaced at the next login. */
export function needsRehash(passwordHash: string): boolean {
  return !passwordHash.startsWith(currentPrefix);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
