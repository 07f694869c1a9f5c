-- mailbox_open: everything SELECT and EXAMINE report, in one round trip. For a read-write open
-- (p_claim_recent) it first takes \Recent as claimRecent does (recent_uid moves to uidnext under the
-- row lock; the old mark is returned as recent_from; \Recent is advisory, so this transaction's
-- commit need not wait for the WAL flush). The rest is read by one statement, so the UID list,
-- uidnext and highestmodseq agree with each other (and, under the lock, with the claim). The first
-- unseen UID is looked for only when asked (IMAP4rev1's UNSEEN code) and the unseen counter
-- (migration 075) says there is one. No row when the mailbox does not exist.
CREATE OR REPLACE FUNCTION mailbox_open(p_account bigint, p_name text, p_claim_recent boolean, p_first_unseen boolean)
RETURNS TABLE (id bigint, name text, special_use text, uidvalidity bigint, uidnext bigint,
  highestmodseq bigint, recent_from bigint, uids bigint[], keywords text[], first_unseen bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_id bigint;
  v_recent bigint;
BEGIN
  IF p_claim_recent THEN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE mailboxes m SET recent_uid = m.uidnext
    FROM (SELECT x.id, x.recent_uid FROM mailboxes x WHERE x.account_id = p_account AND x.name = p_name FOR UPDATE) old
    WHERE m.id = old.id RETURNING m.id, old.recent_uid INTO v_id, v_recent;
  ELSE
    SELECT m.id INTO v_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
  END IF;
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,
      coalesce(v_recent, m.recent_uid),
      coalesce((SELECT array_agg(mm.uid ORDER BY mm.uid) FROM mailbox_messages mm WHERE mm.mailbox_id = m.id), '{}'),
      ARRAY(SELECT DISTINCT f FROM mailbox_messages mm, unnest(mm.flags) f
            WHERE mm.mailbox_id = m.id AND left(f, 1) <> '\' ORDER BY 1),
      CASE WHEN p_first_unseen AND m.unseen_count > 0 THEN
        (SELECT mm.uid FROM mailbox_messages mm
         WHERE mm.mailbox_id = m.id AND NOT ('\Seen' = ANY (mm.flags)) ORDER BY mm.uid LIMIT 1)
      END
    FROM mailboxes m WHERE m.id = v_id;
END
$$;
