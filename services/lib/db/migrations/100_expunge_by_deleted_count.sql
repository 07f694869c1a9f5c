-- EXPUNGE (all of a mailbox's \Deleted messages) knows from the mailbox's deleted_count whether
-- there is anything to remove, instead of probing its messages (bench/imap-queries.ts --statements).
--
-- Before, mailbox_expunge (064) looked for one message to remove (for EXPUNGE and CLOSE: a scan of
-- the mailbox's messages for the \Deleted flag, the whole mailbox when none has it), then took the
-- modseq with imap_next_modseq. For EXPUNGE of every \Deleted message, one UPDATE now takes the
-- modseq only if the mailbox's deleted_count (kept exact by the counter trigger, 075) is above
-- zero: an EXPUNGE with nothing to remove writes nothing and reads one row whatever the mailbox's
-- size, and one with something saves the probe. The UPDATE takes the row lock every writer of the
-- mailbox's messages takes (through imap_next_modseq, mailbox_reserve, imap_store_flags or the
-- counter trigger), so it waits for a writer that is setting \Deleted and then reads the count it
-- committed; the DELETE after it removes what the count counted. UID EXPUNGE, MOVE's originals and
-- REPLACE (named UIDs) keep the probe.
CREATE OR REPLACE FUNCTION mailbox_expunge(p_mailbox bigint, p_uids bigint[], p_deleted_only boolean)
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_modseq bigint;
BEGIN
  IF p_uids IS NULL AND p_deleted_only THEN
    UPDATE mailboxes m SET highestmodseq = m.highestmodseq + 1
      WHERE m.id = p_mailbox AND m.deleted_count > 0
      RETURNING m.highestmodseq INTO v_modseq;
    IF v_modseq IS NULL THEN
      RETURN;
    END IF;
  ELSE
    PERFORM 1 FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND (p_uids IS NULL OR mm.uid = ANY (p_uids))
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
      WHERE mm.mailbox_id = p_mailbox AND (p_uids IS NULL OR mm.uid = ANY (p_uids))
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
