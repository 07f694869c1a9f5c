-- mailbox_copy and mailbox_append (as 088 left them) as PL/pgSQL, with the same statement: a SQL
-- function that writes cannot be inlined, so PostgreSQL (before 18) planned its body again on every
-- call (every IMAP APPEND and COPY); a PL/pgSQL function keeps the plan for the connection, as 083
-- did for mailbox_reserve and imap_expunge.
CREATE OR REPLACE FUNCTION mailbox_copy(p_from bigint, p_uids bigint[], p_to bigint)
RETURNS TABLE (source bigint, target bigint, modseq bigint, uidvalidity bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    WITH src AS MATERIALIZED (
      SELECT mm.uid, mm.body_id, mm.size, mm.internal_date, mm.internal_date_zone, mm.flags,
             row_number() OVER (ORDER BY mm.uid) AS ord
      FROM mailbox_messages mm WHERE mm.mailbox_id = p_from AND mm.uid = ANY (p_uids)
    ), reserved AS MATERIALIZED (
      SELECT r.first_uid, r.first_modseq, r.uidvalidity
      FROM (SELECT count(*)::int AS n FROM src) c CROSS JOIN LATERAL mailbox_reserve(p_to, c.n) r
      WHERE c.n > 0
    ), inserted AS (
      INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, internal_date_zone, flags, modseq)
      SELECT p_to, r.first_uid + s.ord - 1, s.body_id, s.size, s.internal_date, s.internal_date_zone, s.flags,
             r.first_modseq + s.ord - 1
      FROM reserved r, src s
    )
    SELECT s.uid, r.first_uid + s.ord - 1, r.first_modseq + s.ord - 1, r.uidvalidity
    FROM reserved r, src s ORDER BY s.ord;
END
$$;

CREATE OR REPLACE FUNCTION mailbox_append(p_mailbox bigint, p_body_ids bigint[], p_sizes integer[],
  p_dates timestamptz[], p_flags jsonb, p_zones smallint[] DEFAULT NULL)
RETURNS TABLE (first_uid bigint, first_modseq bigint, uidvalidity bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    WITH reserved AS MATERIALIZED (
      SELECT r.first_uid, r.first_modseq, r.uidvalidity FROM mailbox_reserve(p_mailbox, cardinality(p_body_ids)) r
    ), inserted AS (
      INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, internal_date_zone, flags, modseq)
      SELECT p_mailbox, r.first_uid + u.ord - 1, u.body_id, u.size, u.internal_date, nullif(u.zone, 0),
             ARRAY(SELECT jsonb_array_elements_text(p_flags -> (u.ord::int - 1))), r.first_modseq + u.ord - 1
      FROM reserved r,
           unnest(p_body_ids, p_sizes, p_dates, coalesce(p_zones, '{}'::smallint[]))
             WITH ORDINALITY AS u(body_id, size, internal_date, zone, ord)
      WHERE u.body_id IS NOT NULL
    )
    SELECT first_uid, first_modseq, uidvalidity FROM reserved;
END
$$;
