-- Outbound MTA queue: one row per remote recipient still to be delivered. The spool keeps the
-- message and the recipient's final state; this table is the delivery schedule, shared by every
-- outbound-mta replica. Rows are deleted once the recipient reaches a final state.
CREATE TABLE outbound_queue (
  spool_id         uuid NOT NULL,
  rcpt_index       integer NOT NULL,
  domain           text NOT NULL,                 -- recipient domain (destination key)
  recipient        text NOT NULL,
  mail_from        text NOT NULL,                 -- envelope sender used on the wire ('' = null sender)
  -- queued (never tried) | deferred (temporary failure) | held (by an operator)
  state            text NOT NULL DEFAULT 'queued',
  attempts         integer NOT NULL DEFAULT 0,
  queued_at        timestamptz NOT NULL DEFAULT now(),   -- when the message was accepted
  expires_at       timestamptz NOT NULL,                  -- give up (bounce) after this
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  last_reply       text,
  last_host        text,
  last_tls         text,                          -- TLS outcome of the last attempt
  delay_notified   boolean NOT NULL DEFAULT false,
  -- An attempt in flight: which worker, and until when its lease holds (then any replica may retry).
  lease_owner      text,
  lease_expires_at timestamptz,
  PRIMARY KEY (spool_id, rcpt_index),
  FOREIGN KEY (spool_id, rcpt_index) REFERENCES spool_recipients (spool_id, rcpt_index) ON DELETE CASCADE
);
CREATE INDEX outbound_queue_due ON outbound_queue (next_attempt_at) WHERE state IN ('queued', 'deferred');
CREATE INDEX outbound_queue_domain ON outbound_queue (domain);
CREATE INDEX outbound_queue_leased ON outbound_queue (spool_id) WHERE lease_expires_at IS NOT NULL;
