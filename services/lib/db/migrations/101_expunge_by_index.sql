-- EXPUNGE, UID EXPUNGE and MOVE's originals find the messages they remove by index instead of
-- reading the whole mailbox (bench/imap-queries.ts --statements --messages 5000).
--
-- mailbox_expunge's probe and DELETE (064, 100) tested `p_uids IS NULL OR uid = ANY (p_uids)`; a
-- plan for both cases can only read every message of the mailbox and filter (about 0.9 ms per
-- statement at 5,000 messages). Now the UIDs are settled first and the probe and the DELETE take
-- them by primary key: named UIDs as given; for EXPUNGE, the mailbox's \Deleted messages, read after
-- the row lock (100) through a partial index that holds only messages flagged \Deleted (a STORE that
-- sets or clears \Deleted already writes every index of the row: its modseq is indexed).
-- Same results as before. With a generic plan: with the UIDs in a variable PostgreSQL otherwise
-- planned the DELETE on every call (about 55 us).
CREATE INDEX mailbox_messages_deleted ON mailbox_messages (mailbox_id, uid) WHERE '\Deleted' = ANY (flags);

CREATE OR REPLACE FUNCTION mailbox_expunge(p_mailbox bigint, p_uids bigint[], p_deleted_only boolean)
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  v_modseq bigint;
  v_uids bigint[] := p_uids;
BEGIN
  IF p_uids IS NULL AND p_deleted_only THEN
    UPDATE mailboxes m SET highestmodseq = m.highestmodseq + 1
      WHERE m.id = p_mailbox AND m.deleted_count > 0
      RETURNING m.highestmodseq INTO v_modseq;
    IF v_modseq IS NULL THEN
      RETURN;
    END IF;
    v_uids := ARRAY(SELECT mm.uid FROM mailbox_messages mm
                    WHERE mm.mailbox_id = p_mailbox AND '\Deleted' = ANY (mm.flags));
  ELSE
    IF v_uids IS NULL THEN
      v_uids := ARRAY(SELECT mm.uid FROM mailbox_messages mm WHERE mm.mailbox_id = p_mailbox);
    END IF;
    PERFORM 1 FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (v_uids)
        AND (NOT p_deleted_only OR '\Deleted' = ANY (mm.flags))
      LIMIT 1;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    v_modseq := imap_next_modseq(p_mailbox);
  END IF;
  RETURN QUERY
    WITH gone AS (
      DELETE FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (v_uids)
        AND (NOT p_deleted_only OR '\Deleted' = ANY (mm.flags))
      RETURNING mm.uid
    ), logged AS (
      INSERT INTO mailbox_expunges AS e (mailbox_id, uid, modseq)
      SELECT p_mailbox, gone.uid, v_modseq FROM gone
      ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq
      RETURNING e.uid
    )
    SELECT logged.uid, v_modseq FROM logged ORDER BY logged.uid;
END
$$;
