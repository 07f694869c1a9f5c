export { DatabaseUnavailableError, isTransientDatabaseError } from './errors.js';
export { migrate, migrationsDirectory } from './migrate.js';
export { createPool, type Pool, type PoolClient } from './pool.js';
export { withTransaction } from './transaction.js';
