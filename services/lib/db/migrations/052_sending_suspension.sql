-- Compromised-account containment. An account whose sending is suspended may still log in and read
-- its mail, but msa refuses its submissions (550 5.7.1) until an operator lifts the suspension
-- (hermod user unsuspend). sending_suspended_reason says why, for the operator and the notice.
ALTER TABLE accounts
  ADD COLUMN sending_suspended_at timestamptz,
  ADD COLUMN sending_suspended_reason text;

-- One row per submission transaction that an account's hourly recipient limit cut short (at in
-- milliseconds since the epoch). Enough of them within the configured window suspend the account's
-- sending. Rows older than the window are deleted as hits are recorded; lifting a suspension
-- deletes the account's rows, so it starts again from nothing.
CREATE TABLE submission_limit_hits (
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  at bigint NOT NULL
);
CREATE INDEX submission_limit_hits_account ON submission_limit_hits (account_id, at);
