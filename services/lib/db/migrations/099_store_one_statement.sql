-- STORE with fewer statements inside PostgreSQL (bench/imap-queries.ts --statements).
--
-- Before (097), a changing STORE ran four statements under imap_store_flags: the call of
-- imap_update_flags, a probe for a message the STORE changes, the mailbox row's lock to read the
-- next modseq, and the UPDATE; each statement a function runs costs an executor start-up, and a
-- function layer its own. Now one function, imap_store_flags with p_report_unchanged, runs the
-- probe and the UPDATE. The probe stays so that a STORE that changes nothing runs no UPDATE (an
-- UPDATE's statement trigger runs for no rows too).
--
-- The next modseq is a scalar subquery of the UPDATE that locks the mailbox row (FOR NO KEY UPDATE,
-- as before). PostgreSQL evaluates it once, when the first row that changes is formed and before
-- that row is written: so the mailbox row is locked before any message row (every writer's lock
-- order), and an UPDATE that finds nothing left to change (another writer was first) takes no lock
-- and no modseq (RFC 7162 3.1.3). A writer that waited for the lock reads the committed row (READ
-- COMMITTED locks and returns a row's newest version), and a message another transaction changed
-- meanwhile is re-checked against its newest version before it is written. The counter trigger
-- writes the modseq to the mailbox row with the counters (097).
--
-- The function's statements run with a generic plan: with the subquery PostgreSQL could choose to
-- plan the UPDATE again on every call.
--
-- imap_update_flags and the four-argument imap_store_flags stay, as calls of this one, for imap
-- replicas of the previous release during a rolling update.
CREATE FUNCTION imap_store_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[],
  p_report_unchanged boolean)
RETURNS TABLE (uid bigint, flags text[], modseq bigint, changed boolean) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  v_changed bigint;
BEGIN
  -- Nothing to change: no UPDATE (whose statement trigger would run for no rows).
  PERFORM 1 FROM mailbox_messages mm
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      AND imap_flags_change(mm.flags, p_operation, p_flags)
    LIMIT 1;
  v_changed := 0;
  IF FOUND THEN
    RETURN QUERY
      UPDATE mailbox_messages mm SET flags = imap_next_flags(mm.flags, p_operation, p_flags),
        modseq = (SELECT m.highestmodseq + 1 FROM mailboxes m WHERE m.id = p_mailbox FOR NO KEY UPDATE)
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
        AND imap_flags_change(mm.flags, p_operation, p_flags)
      RETURNING mm.uid, mm.flags, mm.modseq, true;
    GET DIAGNOSTICS v_changed = ROW_COUNT;
  END IF;
  IF NOT p_report_unchanged THEN
    RETURN;
  END IF;
  IF v_changed = 0 THEN
    RETURN QUERY
      SELECT mm.uid, mm.flags, mm.modseq, false FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      ORDER BY mm.uid;
  ELSIF v_changed < cardinality(p_uids) THEN
    -- The changed rows carry the mailbox's highest modseq (written by the counter trigger); every
    -- other message's is lower.
    RETURN QUERY
      SELECT mm.uid, mm.flags, mm.modseq, false FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
        AND mm.modseq < (SELECT m.highestmodseq FROM mailboxes m WHERE m.id = p_mailbox)
      ORDER BY mm.uid;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION imap_store_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[])
RETURNS TABLE (uid bigint, flags text[], modseq bigint, changed boolean) LANGUAGE sql AS $$
  SELECT s.uid, s.flags, s.modseq, s.changed FROM imap_store_flags(p_mailbox, p_uids, p_operation, p_flags, true) s
$$;

CREATE OR REPLACE FUNCTION imap_update_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[])
RETURNS TABLE (uid bigint, flags text[], modseq bigint) LANGUAGE sql AS $$
  SELECT s.uid, s.flags, s.modseq FROM imap_store_flags(p_mailbox, p_uids, p_operation, p_flags, false) s
$$;
