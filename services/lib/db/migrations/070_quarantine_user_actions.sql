-- Per-user quarantine actions from any IMAP client (@hermod/quarantine owns every statement here).
--
-- A recipient acts on the quarantine notice in their mailbox: the keyword $QuarantineRelease (or
-- moving/copying the notice into the folder 'Quarantine/Release') asks for release, the keyword
-- $QuarantineDelete for deletion. The notice is recognised by its body: every mailbox row of a
-- notice shares the body the quarantine stored for it (notice_body_id). Statement triggers on
-- mailbox_messages turn such a change into one row of quarantine_user_actions, in the transaction
-- of the STORE/COPY/MOVE itself (so no action is lost); the quarantine worker (mx) takes the rows
-- and applies the release rules (own entries only, kinds users may release).
ALTER TABLE quarantine_messages
  ADD COLUMN notice_body_id bigint,
  -- Recipients (lower case) the message was released to one at a time (a user's release).
  ADD COLUMN released_to text[] NOT NULL DEFAULT '{}';

CREATE INDEX quarantine_messages_notice_body ON quarantine_messages (notice_body_id)
  WHERE notice_body_id IS NOT NULL;

ALTER TABLE quarantine_audit DROP CONSTRAINT quarantine_audit_action_check;
ALTER TABLE quarantine_audit ADD CONSTRAINT quarantine_audit_action_check
  CHECK (action IN ('quarantine', 'release', 'delete', 'expire', 'release-refused'));

CREATE TABLE quarantine_user_actions (
  id            bigserial PRIMARY KEY,
  quarantine_id uuid NOT NULL,
  account_id    bigint NOT NULL,
  action        text NOT NULL CHECK (action IN ('release', 'delete')),
  requested_at  timestamptz NOT NULL DEFAULT now()
);

-- New rows of a notice: a COPY or MOVE into the release folder, or carrying an action keyword.
CREATE FUNCTION quarantine_actions_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quarantine_user_actions (quarantine_id, account_id, action)
  SELECT q.id, b.account_id,
         CASE WHEN '$QuarantineDelete' = ANY (a.flags) THEN 'delete' ELSE 'release' END
  FROM added a
  JOIN quarantine_messages q ON q.notice_body_id = a.body_id
  JOIN mailboxes b ON b.id = a.mailbox_id
  WHERE b.name = 'Quarantine/Release'
     OR a.flags && ARRAY['$QuarantineRelease', '$QuarantineDelete'];
  RETURN NULL;
END $$;

-- Updated rows of a notice: an action keyword that was not there before.
CREATE FUNCTION quarantine_actions_flagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quarantine_user_actions (quarantine_id, account_id, action)
  SELECT q.id, b.account_id, k.action
  FROM changed n
  JOIN previous o ON o.mailbox_id = n.mailbox_id AND o.uid = n.uid
  CROSS JOIN LATERAL (VALUES ('$QuarantineRelease', 'release'), ('$QuarantineDelete', 'delete')) k (keyword, action)
  JOIN quarantine_messages q ON q.notice_body_id = n.body_id
  JOIN mailboxes b ON b.id = n.mailbox_id
  -- The first test needs only the new row: a flag update without an action keyword (nearly all)
  -- is dropped before any join.
  WHERE n.flags && ARRAY['$QuarantineRelease', '$QuarantineDelete']
    AND k.keyword = ANY (n.flags) AND NOT (k.keyword = ANY (o.flags));
  RETURN NULL;
END $$;

CREATE TRIGGER mailbox_messages_quarantine_added AFTER INSERT ON mailbox_messages
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION quarantine_actions_added();
CREATE TRIGGER mailbox_messages_quarantine_flagged AFTER UPDATE ON mailbox_messages
  REFERENCING OLD TABLE AS previous NEW TABLE AS changed FOR EACH STATEMENT
  EXECUTE FUNCTION quarantine_actions_flagged();
