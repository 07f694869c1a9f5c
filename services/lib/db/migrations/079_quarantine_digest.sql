-- The quarantine digest (@hermod/quarantine owns every statement here): recipients whose domain
-- (or the mx) asks for a digest get no notice per held message; instead, once a period, one message
-- listing what was held for them since their last digest.
--
-- digest_pending holds the recipients (as addressed) still to be told of an entry by a digest; the
-- digest's transaction takes them off. quarantine_digests has one row per recipient and period: its
-- primary key is what makes a digest go exactly once per period whichever mx replica gets there
-- first (the second one's insert waits for the first's commit, then finds the row).
ALTER TABLE quarantine_messages ADD COLUMN digest_pending text[] NOT NULL DEFAULT '{}';

CREATE INDEX quarantine_messages_digest_pending ON quarantine_messages (quarantined_at)
  WHERE digest_pending <> '{}';

CREATE TABLE quarantine_digests (
  recipient  text NOT NULL,
  period_end timestamptz NOT NULL,
  sent_at    timestamptz NOT NULL DEFAULT now(),
  -- The digest message (none when everything pending had gone before the period's pass).
  spool_id   uuid,
  -- Its body: every mailbox row of the digest points to it (the mda, COPY and MOVE keep it), so
  -- an action keyword or the release folder on the digest is recognised as the recipient's action
  -- on every entry it lists (migration 080).
  body_id    bigint,
  entry_ids  uuid[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (recipient, period_end)
);

CREATE INDEX quarantine_digests_body ON quarantine_digests (body_id) WHERE body_id IS NOT NULL;
CREATE INDEX quarantine_digests_sent ON quarantine_digests (sent_at);
