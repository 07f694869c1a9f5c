-- The allocation rule and EXPUNGE's stored function as PL/pgSQL, with the same statements.
-- PostgreSQL (before 18) plans the body of a SQL function that it cannot inline (these write, so it
-- cannot) again on every call; a PL/pgSQL function keeps its statements' plans for the connection.
-- APPEND and COPY (mailbox_append and mailbox_copy, redefined as SQL functions by migration 088)
-- reach mailbox_reserve, mda's deliveries too.

-- mailbox_reserve (064): the allocation rule.
CREATE OR REPLACE FUNCTION mailbox_reserve(p_mailbox bigint, p_count integer)
RETURNS TABLE (first_uid bigint, first_modseq bigint, uidvalidity bigint, name text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    UPDATE mailboxes m SET uidnext = m.uidnext + p_count, highestmodseq = m.highestmodseq + p_count
    WHERE m.id = p_mailbox
    RETURNING m.uidnext - p_count, m.highestmodseq - p_count + 1, m.uidvalidity, m.name;
END
$$;

-- imap_expunge (064): EXPUNGE through mailbox_expunge.
CREATE OR REPLACE FUNCTION imap_expunge(p_mailbox bigint, p_uids bigint[])
RETURNS TABLE (uid bigint, modseq bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT e.uid, e.modseq FROM mailbox_expunge(p_mailbox, p_uids, true) e;
END
$$;

-- mailbox_claim_recent (076): the same claim, without rewriting the mailbox row when there is
-- nothing to claim (every SELECT of a read-write session took a new version of the row, and its WAL,
-- also when no message had arrived since the last claim). The row lock is still taken, so appenders
-- wait as before and the reads after the claim see no message it did not cover.
CREATE OR REPLACE FUNCTION mailbox_claim_recent(p_mailbox bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_previous bigint;
  v_next bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT x.recent_uid, x.uidnext INTO v_previous, v_next FROM mailboxes x WHERE x.id = p_mailbox FOR UPDATE;
  IF v_previous IS DISTINCT FROM v_next THEN
    UPDATE mailboxes m SET recent_uid = v_next WHERE m.id = p_mailbox;
  END IF;
  RETURN v_previous;
END
$$;
