export { createPool, type Pool, type PoolClient } from './pool.js';
export { migrate, migrationsDirectory } from './migrate.js';
export { withTransaction } from './transaction.js';
export { DatabaseUnavailableError, isTransientDatabaseError } from './errors.js';
