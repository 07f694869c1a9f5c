export { DatabaseUnavailableError, isTransientDatabaseError } from './errors.js';
export { GroupCommitter } from './group-commit.js';
export { migrate, migrationsDirectory } from './migrate.js';
export { createPool, type Pool, type PoolClient } from './pool.js';
export { withClient, withTransaction } from './transaction.js';
