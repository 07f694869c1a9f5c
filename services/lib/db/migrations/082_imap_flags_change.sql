-- STORE's flag rule (migration 011) made cheap; the results are the same.
--
-- Whether a STORE changes a message: a test on the flags as sets (array containment and overlap),
-- the same answer as comparing the sorted, distinct flags before and after (migration 011) without
-- sorting either side. imap_update_flags asks it of every named message twice (before taking a
-- modseq, then in the UPDATE), and the sorting, through a SQL function that is not inlined, was
-- most of a STORE's cost in PostgreSQL. This one is a single expression, so it is inlined.
CREATE OR REPLACE FUNCTION imap_flags_change(current_flags text[], operation text, given text[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE operation
    WHEN 'set' THEN NOT (current_flags @> given AND given @> current_flags)
    WHEN 'add' THEN NOT (current_flags @> given)
    ELSE current_flags && given
  END
$$;

-- The flags after a STORE, sorted and distinct as before. The SQL version's subqueries kept it from
-- being inlined, so every statement that used it planned its body again (about 100 us a call); a
-- PL/pgSQL function keeps its plans for the connection.
CREATE OR REPLACE FUNCTION imap_next_flags(current_flags text[], operation text, given text[])
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF operation = 'set' THEN
    RETURN ARRAY(SELECT DISTINCT f FROM unnest(given) f ORDER BY f);
  ELSIF operation = 'add' THEN
    RETURN ARRAY(SELECT DISTINCT f FROM unnest(current_flags || given) f ORDER BY f);
  END IF;
  RETURN ARRAY(SELECT DISTINCT f FROM unnest(current_flags) f WHERE NOT (f = ANY (given)) ORDER BY f);
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
      AND imap_flags_change(mm.flags, p_operation, p_flags)
    LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_modseq := imap_next_modseq(p_mailbox);
  RETURN QUERY
    UPDATE mailbox_messages mm SET flags = imap_next_flags(mm.flags, p_operation, p_flags), modseq = v_modseq
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      AND imap_flags_change(mm.flags, p_operation, p_flags)
    RETURNING mm.uid, mm.flags, mm.modseq;
END
$$;
