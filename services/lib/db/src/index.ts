export {
  CommitOutcomeUnknownError,
  commitOutcomeUnknown,
  DatabaseUnavailableError,
  isQueryTimeout,
  isTransientDatabaseError,
} from './errors.js';
export { GroupCommitter } from './group-commit.js';
export { migrate, migrationsDirectory } from './migrate.js';
export {
  createPool,
  DEFAULT_QUERY_TIMEOUT_MS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  type Pool,
  type PoolClient,
  type PoolOptions,
  PoolTimeoutsError,
} from './pool.js';
export { withClient, withTransaction } from './transaction.js';
