-- The filtering gateway's quarantine (@hermod/quarantine owns every statement on these tables):
-- messages held instead of delivered (malware, a policy rule, spam), kept until expires_at, and an
-- audit log of who quarantined, released, deleted or expired what and when. The audit rows have no
-- foreign key: they outlive the message they describe.
CREATE TABLE quarantine_messages (
  id               uuid PRIMARY KEY,
  body_id          bigint NOT NULL REFERENCES message_bodies (id),
  mail_from        text NOT NULL,
  recipients       text[] NOT NULL,
  source           text NOT NULL,
  client_address   text,
  client_helo      text,
  kind             text NOT NULL CHECK (kind IN ('malware', 'policy', 'spam')),
  reason           text NOT NULL,
  rule             text,
  subject          text,
  header_from      text,
  size             integer NOT NULL,
  envelope         jsonb NOT NULL DEFAULT '{}',
  quarantined_at   timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  released_at      timestamptz,
  released_by      text,
  -- The spool message the release became (deterministic: a retried release finds it).
  release_spool_id uuid
);

CREATE INDEX quarantine_messages_expires ON quarantine_messages (expires_at);
CREATE INDEX quarantine_messages_recipients ON quarantine_messages USING gin (recipients);

CREATE TABLE quarantine_audit (
  id            bigserial PRIMARY KEY,
  quarantine_id uuid NOT NULL,
  action        text NOT NULL CHECK (action IN ('quarantine', 'release', 'delete', 'expire')),
  actor         text NOT NULL,
  at            timestamptz NOT NULL DEFAULT now(),
  details       jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX quarantine_audit_message ON quarantine_audit (quarantine_id, at);

-- A deleted or expired entry's body becomes a collection candidate, as for spool and mailbox rows.
CREATE TRIGGER quarantine_messages_body_gc AFTER DELETE ON quarantine_messages
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION note_body_gc_candidates();
