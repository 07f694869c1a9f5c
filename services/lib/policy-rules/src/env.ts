import { env } from '@hermod/config';

/** The policy rules' variables, shared by msa and mx (each service spreads them into its schema). */
export const policyRulesEnv = {
  /** A YAML or JSON file with the global policy rules (a list, or an object with `rules`); empty = none. Read at start. */
  POLICY_RULES_FILE: env.optionalString(),
  /** The default rules: refuse executables, scripts, Office macros and double extensions (docs/filtering.md). */
  POLICY_DEFAULT_RULES: env.bool(true),
  /** With the default rules: also refuse password-protected (encrypted) archives and Office documents, which no scanner can read (inbound only). */
  POLICY_BLOCK_ENCRYPTED_ARCHIVES: env.bool(true),
  /** Longest time the policy rules may take on one message; over it the message gets 451 4.7.1. */
  POLICY_TIME_BUDGET_MS: env.int(2_000, 10, 60_000),
  /** The rules see at most this many bytes of a message (a larger one is judged on its beginning). */
  POLICY_MAX_MESSAGE_BYTES: env.int(25 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
};
