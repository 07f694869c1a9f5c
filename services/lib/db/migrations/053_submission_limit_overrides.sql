-- Per-account and per-domain overrides of msa's submission limits. A NULL column inherits: the
-- effective limit is the account's value, else its domain's, else msa's global setting; 0 means no
-- limit. auto_suspend false exempts from compromised-account containment (an operator override).
CREATE TABLE account_submission_limits (
  account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  messages_per_hour integer CHECK (messages_per_hour >= 0),
  recipients_per_hour integer CHECK (recipients_per_hour >= 0),
  max_sessions integer CHECK (max_sessions >= 0),
  auto_suspend boolean
);
CREATE TABLE domain_submission_limits (
  domain text PRIMARY KEY,
  messages_per_hour integer CHECK (messages_per_hour >= 0),
  recipients_per_hour integer CHECK (recipients_per_hour >= 0),
  max_sessions integer CHECK (max_sessions >= 0),
  auto_suspend boolean
);
