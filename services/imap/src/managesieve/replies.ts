import type { Logger } from '@hermod/logging';
import type { SieveError } from '@hermod/sieve';
import { formatErrors, SieveScriptError, type SieveScriptErrorCode } from '@hermod/sieve-store';
import type { SieveReply } from './session.js';

/** RFC 5804 1.3 response codes for each refusal of the script store: the one place they are chosen. */
const codes: Record<SieveScriptErrorCode, string | undefined> = {
  nonexistent: 'NONEXISTENT',
  active: 'ACTIVE',
  'already-exists': 'ALREADYEXISTS',
  'quota-max-scripts': 'QUOTA/MAXSCRIPTS',
  'quota-max-size': 'QUOTA/MAXSIZE',
  'bad-name': undefined,
  invalid: undefined,
  managed: undefined,
};

/** The NO a failed command answers: the store's refusal with its code, or TRYLATER for anything else. */
export function replyForError(error: unknown, logger: Logger): SieveReply {
  if (error instanceof SieveScriptError) {
    const code = codes[error.code];
    return { status: 'NO', ...(code ? { code } : {}), text: error.message };
  }
  logger.warn({ err: error }, 'managesieve command failed');
  return { status: 'NO', code: 'TRYLATER', text: 'Temporary failure, try again later' };
}

/** OK, with the compiler's warnings as (WARNINGS) when there are some (RFC 5804 2.6). */
export function okWithWarnings(warnings: readonly SieveError[]): SieveReply {
  return warnings.length === 0
    ? { status: 'OK' }
    : { status: 'OK', code: 'WARNINGS', text: formatErrors(warnings) };
}
