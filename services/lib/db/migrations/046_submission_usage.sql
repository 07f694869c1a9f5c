-- Messages and recipients each account submitted per clock hour (hour = epoch milliseconds / 3600000),
-- shared by every msa replica; rows older than a day are deleted by msa as it goes.
CREATE TABLE submission_usage (
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  hour bigint NOT NULL,
  messages integer NOT NULL DEFAULT 0,
  recipients integer NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, hour)
);
CREATE INDEX submission_usage_hour ON submission_usage (hour);
