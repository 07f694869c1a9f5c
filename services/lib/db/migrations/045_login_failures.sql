-- Failed-login counters shared by every replica of msa and imap (submission, IMAP and POP3), keyed on
-- what a login resolves to ('account:<id>', 'address:<canonical>', 'name:<normalised>') and on the
-- client ('ip:<v4>' or 'ip:<v6 /64>'). expires_at is in milliseconds since the epoch: a key is locked
-- while failures >= the service's threshold and expires_at is in the future. Expired rows are deleted
-- by time (see PostgresLoginFailureStore), never by count.
CREATE TABLE login_failures (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX login_failures_expires ON login_failures (expires_at);
