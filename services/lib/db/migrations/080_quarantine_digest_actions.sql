-- A recipient's action on a quarantine digest (migration 079) is an action on every entry the
-- digest lists: the keyword $QuarantineRelease, or a COPY/MOVE into 'Quarantine/Release', asks for
-- the release of each of them, $QuarantineDelete for deletion. The triggers of migration 070 stay
-- as they are; their functions learn the digests' bodies besides the notices'. The worker applies
-- the same rules (own entries only, kinds users may release) and a release stays exactly once per
-- recipient, however often it is asked for.
-- The rows that ask for an action are found first (one lookup of the row's mailbox, as before);
-- only those are looked up among notices and digests.
CREATE OR REPLACE FUNCTION quarantine_actions_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quarantine_user_actions (quarantine_id, account_id, action)
  SELECT h.quarantine_id, r.account_id,
         CASE WHEN '$QuarantineDelete' = ANY (r.flags) THEN 'delete' ELSE 'release' END
  FROM (
    SELECT a.body_id, a.flags, b.account_id
    FROM added a JOIN mailboxes b ON b.id = a.mailbox_id
    WHERE b.name = 'Quarantine/Release'
       OR a.flags && ARRAY['$QuarantineRelease', '$QuarantineDelete']
  ) r
  CROSS JOIN LATERAL (
    SELECT q.id FROM quarantine_messages q WHERE q.notice_body_id = r.body_id
    UNION ALL
    SELECT e.id FROM quarantine_digests d CROSS JOIN LATERAL unnest(d.entry_ids) e (id)
    WHERE d.body_id = r.body_id
  ) h (quarantine_id);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION quarantine_actions_flagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quarantine_user_actions (quarantine_id, account_id, action)
  SELECT h.quarantine_id, b.account_id, k.action
  FROM changed n
  JOIN previous o ON o.mailbox_id = n.mailbox_id AND o.uid = n.uid
  CROSS JOIN LATERAL (VALUES ('$QuarantineRelease', 'release'), ('$QuarantineDelete', 'delete')) k (keyword, action)
  CROSS JOIN LATERAL (
    SELECT q.id FROM quarantine_messages q WHERE q.notice_body_id = n.body_id
    UNION ALL
    SELECT e.id FROM quarantine_digests d CROSS JOIN LATERAL unnest(d.entry_ids) e (id)
    WHERE d.body_id = n.body_id
  ) h (quarantine_id)
  JOIN mailboxes b ON b.id = n.mailbox_id
  -- The first test needs only the new row: a flag update without an action keyword (nearly all)
  -- is dropped before any join.
  WHERE n.flags && ARRAY['$QuarantineRelease', '$QuarantineDelete']
    AND k.keyword = ANY (n.flags) AND NOT (k.keyword = ANY (o.flags));
  RETURN NULL;
END $$;
