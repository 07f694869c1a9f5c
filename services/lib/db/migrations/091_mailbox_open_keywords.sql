-- mailbox_open (076) with the same result, cheaper keywords: the mailbox's keywords (every stored
-- flag not starting with a backslash) were found by unnesting the flags of every message, one
-- function scan per message, which was about a third of SELECT's CPU in PostgreSQL with 100
-- messages and grows with the mailbox. A message whose flags are all system flags has no keyword to
-- give, so the containment test (no unnest) skips it first; flags of the others are unnested as before.
CREATE OR REPLACE FUNCTION mailbox_open(p_account bigint, p_name text, p_claim_recent boolean, p_first_unseen boolean)
RETURNS TABLE (id bigint, name text, special_use text, uidvalidity bigint, uidnext bigint,
  highestmodseq bigint, recent_from bigint, uids bigint[], keywords text[], first_unseen bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_id bigint;
  v_recent bigint;
BEGIN
  SELECT m.id INTO v_id FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
  IF v_id IS NOT NULL AND p_claim_recent THEN
    v_recent := mailbox_claim_recent(v_id);
  END IF;
  IF v_id IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq,
      coalesce(v_recent, m.recent_uid),
      coalesce((SELECT array_agg(mm.uid ORDER BY mm.uid) FROM mailbox_messages mm WHERE mm.mailbox_id = m.id), '{}'),
      ARRAY(SELECT DISTINCT f FROM mailbox_messages mm, unnest(mm.flags) f
            WHERE mm.mailbox_id = m.id
              AND NOT (mm.flags <@ ARRAY['\Answered', '\Deleted', '\Draft', '\Flagged', '\Seen'])
              AND left(f, 1) <> '\' ORDER BY 1),
      CASE WHEN p_first_unseen AND m.unseen_count > 0 THEN
        (SELECT mm.uid FROM mailbox_messages mm
         WHERE mm.mailbox_id = m.id AND NOT ('\Seen' = ANY (mm.flags)) ORDER BY mm.uid LIMIT 1)
      END
    FROM mailboxes m WHERE m.id = v_id;
END
$$;
