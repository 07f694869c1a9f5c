-- One home for two rules that callers in several packages used to spell out in their own SQL.
--
-- mailbox_reserve: THE allocation rule for adding messages to a mailbox (@hermod/mail-store's
-- appendManyToMailbox for IMAP APPEND/COPY/MOVE, mda's batch delivery statement): under the mailbox
-- row lock the n new messages take the next n UIDs and the next n modseqs. UIDs strictly increase
-- and are never reused; a later reservation has higher UIDs and higher modseqs. No row when the
-- mailbox does not exist (a caller decides whether that is an error).
CREATE OR REPLACE FUNCTION mailbox_reserve(p_mailbox bigint, p_count integer)
RETURNS TABLE (first_uid bigint, first_modseq bigint, uidvalidity bigint, name text)
LANGUAGE sql VOLATILE AS $$
  UPDATE mailboxes m SET uidnext = m.uidnext + p_count, highestmodseq = m.highestmodseq + p_count
  WHERE m.id = p_mailbox
  RETURNING m.uidnext - p_count, m.highestmodseq - p_count + 1, m.uidvalidity, m.name
$$;

-- mailbox_expunge: THE rule for removing messages from a mailbox (EXPUNGE and UID EXPUNGE through
-- imap_expunge, MOVE's originals): the messages among p_uids (all when null), only those flagged
-- \Deleted when p_deleted_only, take ONE new modseq of the mailbox (imap_next_modseq) and are logged
-- for QRESYNC. When none would go no modseq is taken. The removal runs after the row lock with a
-- fresh snapshot, so it sees every writer the lock waited for.
CREATE OR REPLACE FUNCTION mailbox_expunge(p_mailbox bigint, p_uids bigint[], p_deleted_only boolean)
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_modseq bigint;
BEGIN
  PERFORM 1 FROM mailbox_messages mm
    WHERE mm.mailbox_id = p_mailbox AND (p_uids IS NULL OR mm.uid = ANY (p_uids))
      AND (NOT p_deleted_only OR '\Deleted' = ANY (mm.flags))
    LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_modseq := imap_next_modseq(p_mailbox);
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

-- EXPUNGE (migration 011's function, same signature) is now mailbox_expunge for \Deleted messages.
CREATE OR REPLACE FUNCTION imap_expunge(p_mailbox bigint, p_uids bigint[])
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE sql AS $$
  SELECT uid, modseq FROM mailbox_expunge(p_mailbox, p_uids, true)
$$;

-- spool_mark_recipients: THE recipient state rule of the spool (@hermod/spool owns its callers):
-- recipients take the given states (pending -> local | outbound | held -> delivered | failed; final
-- states never change; a null destination or error keeps the old one); then every message of
-- p_messages is marked routed when p_routed, and completed once no recipient is left open. The
-- second statement sees the first's changes, so recipients just made final count as final.
-- Returns how many messages it completed.
CREATE OR REPLACE FUNCTION spool_mark_recipients(
  p_spool_ids uuid[], p_indexes integer[], p_states text[], p_destinations text[], p_errors text[],
  p_messages uuid[], p_routed boolean
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_completed integer;
BEGIN
  UPDATE spool_recipients r SET state = u.state,
         destination = COALESCE(u.destination::jsonb, r.destination),
         last_error = COALESCE(u.error, r.last_error), updated_at = now()
  FROM unnest(p_spool_ids, p_indexes, p_states, p_destinations, p_errors) AS u(spool_id, idx, state, destination, error)
  WHERE r.spool_id = u.spool_id AND r.rcpt_index = u.idx AND r.state NOT IN ('delivered', 'failed');
  IF p_messages IS NULL OR cardinality(p_messages) = 0 THEN
    RETURN 0;
  END IF;
  WITH done AS (
    UPDATE spool_messages m
    SET routed_at = CASE WHEN p_routed THEN now() ELSE m.routed_at END,
        completed_at = CASE
          WHEN m.completed_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM spool_recipients r WHERE r.spool_id = m.id AND r.state NOT IN ('delivered', 'failed'))
          THEN now() ELSE m.completed_at END
    WHERE m.id = ANY (p_messages)
      AND (p_routed OR (m.completed_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM spool_recipients r WHERE r.spool_id = m.id AND r.state NOT IN ('delivered', 'failed'))))
    RETURNING m.completed_at IS NOT NULL AND m.completed_at = now() AS completed_now
  )
  SELECT count(*) FILTER (WHERE completed_now)::integer INTO v_completed FROM done;
  RETURN v_completed;
END
$$;
