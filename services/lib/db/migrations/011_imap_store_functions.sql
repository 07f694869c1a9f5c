-- STORE and EXPUNGE in one round trip. Each function runs the same steps as the multi-statement
-- transactions it replaces: look for a message that would change (nothing to do: no new modseq), take
-- the next modseq under the mailbox row lock, then change the messages with a fresh snapshot (a
-- PL/pgSQL statement sees everything committed before it started, including writers the lock waited
-- for). They run as one autocommitted statement, so the commit stays synchronous.

-- The flags after a STORE: sorted and distinct, as mailbox_messages.flags are kept.
CREATE OR REPLACE FUNCTION imap_next_flags(current_flags text[], operation text, given text[])
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE operation
    WHEN 'set' THEN ARRAY(SELECT DISTINCT f FROM unnest(given) f ORDER BY f)
    WHEN 'add' THEN ARRAY(SELECT DISTINCT f FROM unnest(current_flags || given) f ORDER BY f)
    ELSE ARRAY(SELECT DISTINCT f FROM unnest(current_flags) f WHERE NOT (f = ANY (given)) ORDER BY f)
  END
$$;

-- The next modseq of a mailbox; the row lock it takes orders concurrent writers until commit.
CREATE OR REPLACE FUNCTION imap_next_modseq(p_mailbox bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_modseq bigint;
BEGIN
  UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = p_mailbox
    RETURNING highestmodseq INTO v_modseq;
  IF v_modseq IS NULL THEN
    RAISE EXCEPTION 'mailbox % does not exist', p_mailbox;
  END IF;
  RETURN v_modseq;
END
$$;

CREATE OR REPLACE FUNCTION imap_update_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[])
RETURNS TABLE (uid bigint, flags text[], modseq bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_modseq bigint;
BEGIN
  PERFORM 1 FROM mailbox_messages mm
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      AND ARRAY(SELECT DISTINCT f FROM unnest(mm.flags) f ORDER BY f)
          IS DISTINCT FROM imap_next_flags(mm.flags, p_operation, p_flags)
    LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_modseq := imap_next_modseq(p_mailbox);
  RETURN QUERY
    UPDATE mailbox_messages mm SET flags = imap_next_flags(mm.flags, p_operation, p_flags), modseq = v_modseq
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      AND ARRAY(SELECT DISTINCT f FROM unnest(mm.flags) f ORDER BY f)
          IS DISTINCT FROM imap_next_flags(mm.flags, p_operation, p_flags)
    RETURNING mm.uid, mm.flags, mm.modseq;
END
$$;

CREATE OR REPLACE FUNCTION imap_expunge(p_mailbox bigint, p_uids bigint[])
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_modseq bigint;
BEGIN
  PERFORM 1 FROM mailbox_messages mm
    WHERE mm.mailbox_id = p_mailbox AND '\Deleted' = ANY (mm.flags)
      AND (p_uids IS NULL OR mm.uid = ANY (p_uids))
    LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_modseq := imap_next_modseq(p_mailbox);
  RETURN QUERY
    WITH gone AS (
      DELETE FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND '\Deleted' = ANY (mm.flags)
        AND (p_uids IS NULL OR mm.uid = ANY (p_uids))
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
