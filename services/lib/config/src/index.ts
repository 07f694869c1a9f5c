export type { ConfigIssue } from './load-config.js';
export { ConfigError, env, loadConfig } from './load-config.js';
