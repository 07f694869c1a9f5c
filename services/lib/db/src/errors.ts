import pg from 'pg';

export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(cause: unknown) {
    super(`database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  // Name resolution or routing not there yet (a database Service still being created, a DNS hiccup).
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '40001',
  '40P01',
  '53100',
]);

/**
 * Errors after which retrying later can succeed: connection loss, shutdown, serialization, disk
 * full. An error wrapping one (its `cause`, as a failed migration does) counts too.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: string }).code;
    if (code !== undefined && transientCodes.has(code)) return true;
    if (
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
        e.message,
      ) ||
      isQueryTimeout(e)
    )
      return true;
  }
  return false;
}

/** pg's error when query_timeout passed without an answer (createPool sets it). */
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

/**
 * The client gave up waiting for a statement (createPool's query timeout): the server may still be
 * running it and answer later, so the session is out of step and must not be used again.
 */
export function isQueryTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === QUERY_TIMEOUT_MESSAGE;
}

/**
 * A COMMIT (or an autocommitted write) sent but not answered: the session was lost or the client
 * gave up waiting, so the write may or may not be durable. Whoever would promise durability on
 * success (an SMTP 250) must answer as for a failure (4xx) and must not write the items again as
 * if they were known to be absent.
 */
export class CommitOutcomeUnknownError extends Error {
  readonly code = 'COMMIT_OUTCOME_UNKNOWN';
  constructor(cause: unknown) {
    super(`commit outcome unknown: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CommitOutcomeUnknownError';
  }
}

/**
 * Whether a failed COMMIT leaves its outcome unknown: anything but the server's own refusal (an
 * error with a SQLSTATE outside connection loss and shutdown, which means the transaction was
 * rolled back).
 */
export function commitOutcomeUnknown(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError) || error.code === undefined) return true;
  return error.code.startsWith('08') || error.code.startsWith('57');
}
