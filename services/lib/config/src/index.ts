export { loadConfig, ConfigError, env } from './load-config.js';
export type { ConfigIssue } from './load-config.js';
