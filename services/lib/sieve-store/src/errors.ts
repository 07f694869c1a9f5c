import type { SieveError } from '@hermod/sieve';

/**
 * Why a script operation was refused. The codes map one to one onto ManageSieve response codes
 * (RFC 5804 1.3) and CLI messages, which are written in one place each.
 */
export type SieveScriptErrorCode =
  | 'nonexistent'
  | 'active'
  | 'already-exists'
  | 'quota-max-scripts'
  | 'quota-max-size'
  | 'bad-name'
  | 'invalid'
  /** The domain's global scripts are set by a MailDomain (spec.sieve), not the CLI. */
  | 'managed';

export class SieveScriptError extends Error {
  constructor(
    readonly code: SieveScriptErrorCode,
    message: string,
    /** Compile errors (code 'invalid'), each with line and column. */
    readonly errors: SieveError[] = [],
  ) {
    super(message);
    this.name = 'SieveScriptError';
  }
}
