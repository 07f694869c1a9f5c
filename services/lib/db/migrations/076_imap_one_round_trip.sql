-- One round trip each for SELECT/EXAMINE (mailbox_open), a session's sync (mailbox_changes), APPEND
-- (message_body_store + mailbox_append), COPY (mailbox_copy) and MOVE (mailbox_move).

-- mailbox_claim_recent: THE \Recent rule (RFC 3501 2.3.2) for a read-write session: returns the first
-- UID recent for it and moves the mailbox's mark to uidnext (under the row lock), so no other session
-- sees those as recent. \Recent is advisory (after a crash a message may be recent once more), so the
-- transaction's commit need not wait for the WAL flush (so it belongs in a transaction of its own,
-- or one whose other writes are as advisory); it changes no modseq.
CREATE OR REPLACE FUNCTION mailbox_claim_recent(p_mailbox bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_previous bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  UPDATE mailboxes m SET recent_uid = m.uidnext
  FROM (SELECT x.id, x.recent_uid FROM mailboxes x WHERE x.id = p_mailbox FOR UPDATE) old
  WHERE m.id = old.id RETURNING old.recent_uid INTO v_previous;
  RETURN v_previous;
END
$$;

-- mailbox_open: everything SELECT and EXAMINE report, in one round trip. For a read-write open
-- (p_claim_recent) it first takes \Recent (mailbox_claim_recent; the old mark is returned as
-- recent_from). The rest is read by one statement, so the UID list, uidnext and highestmodseq agree
-- with each other (and, under the lock, with the claim). The first unseen UID is looked for only when asked (IMAP4rev1's UNSEEN code) and the unseen counter
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
            WHERE mm.mailbox_id = m.id AND left(f, 1) <> '\' ORDER BY 1),
      CASE WHEN p_first_unseen AND m.unseen_count > 0 THEN
        (SELECT mm.uid FROM mailbox_messages mm
         WHERE mm.mailbox_id = m.id AND NOT ('\Seen' = ANY (mm.flags)) ORDER BY mm.uid LIMIT 1)
      END
    FROM mailboxes m WHERE m.id = v_id;
END
$$;

-- mailbox_copy: COPY in one statement by the allocation rule (mailbox_reserve: the copies take the
-- target's next UIDs and modseqs in source UID order; the body is shared). One row per copy.
CREATE OR REPLACE FUNCTION mailbox_copy(p_from bigint, p_uids bigint[], p_to bigint)
RETURNS TABLE (source bigint, target bigint, modseq bigint, uidvalidity bigint)
LANGUAGE sql VOLATILE AS $$
  WITH src AS MATERIALIZED (
    SELECT mm.uid, mm.body_id, mm.size, mm.internal_date, mm.flags, row_number() OVER (ORDER BY mm.uid) AS ord
    FROM mailbox_messages mm WHERE mm.mailbox_id = p_from AND mm.uid = ANY (p_uids)
  ), reserved AS MATERIALIZED (
    SELECT r.first_uid, r.first_modseq, r.uidvalidity
    FROM (SELECT count(*)::int AS n FROM src) c CROSS JOIN LATERAL mailbox_reserve(p_to, c.n) r
    WHERE c.n > 0
  ), inserted AS (
    INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
    SELECT p_to, r.first_uid + s.ord - 1, s.body_id, s.size, s.internal_date, s.flags, r.first_modseq + s.ord - 1
    FROM reserved r, src s
  )
  SELECT s.uid, r.first_uid + s.ord - 1, r.first_modseq + s.ord - 1, r.uidvalidity
  FROM reserved r, src s ORDER BY s.ord
$$;

-- mailbox_move: MOVE in one round trip, mailbox_copy then mailbox_expunge of the copied originals
-- (one new modseq of the source for all of them, logged for QRESYNC) in one transaction. The expunge
-- runs as its own statement after the copy, with a fresh snapshot.
CREATE OR REPLACE FUNCTION mailbox_move(p_from bigint, p_uids bigint[], p_to bigint)
RETURNS TABLE (source bigint, target bigint, modseq bigint, uidvalidity bigint, expunge_modseq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_sources bigint[];
  v_targets bigint[];
  v_modseqs bigint[];
  v_uidvalidity bigint;
  v_expunged bigint;
BEGIN
  SELECT array_agg(c.source ORDER BY c.source), array_agg(c.target ORDER BY c.source),
         array_agg(c.modseq ORDER BY c.source), max(c.uidvalidity)
    INTO v_sources, v_targets, v_modseqs, v_uidvalidity
    FROM mailbox_copy(p_from, p_uids, p_to) c;
  IF v_sources IS NULL THEN
    RETURN;
  END IF;
  SELECT max(e.modseq) INTO v_expunged FROM mailbox_expunge(p_from, v_sources, false) e;
  RETURN QUERY
    SELECT u.source, u.target, u.modseq, v_uidvalidity, coalesce(v_expunged, 0)
    FROM unnest(v_sources, v_targets, v_modseqs) AS u(source, target, modseq)
    ORDER BY u.source;
END
$$;

-- mailbox_append: the statement of @hermod/mail-store's appendManyToMailbox (APPEND, MULTIAPPEND):
-- under mailbox_reserve's row lock the messages take the next UIDs and modseqs in array order. No
-- row when the mailbox does not exist.
CREATE OR REPLACE FUNCTION mailbox_append(p_mailbox bigint, p_body_ids bigint[], p_sizes integer[],
  p_dates timestamptz[], p_flags jsonb)
RETURNS TABLE (first_uid bigint, first_modseq bigint, uidvalidity bigint)
LANGUAGE sql VOLATILE AS $$
  WITH reserved AS MATERIALIZED (
    SELECT r.first_uid, r.first_modseq, r.uidvalidity FROM mailbox_reserve(p_mailbox, cardinality(p_body_ids)) r
  ), inserted AS (
    INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
    SELECT p_mailbox, r.first_uid + u.ord - 1, u.body_id, u.size, u.internal_date,
           ARRAY(SELECT jsonb_array_elements_text(p_flags -> (u.ord::int - 1))), r.first_modseq + u.ord - 1
    FROM reserved r,
         unnest(p_body_ids, p_sizes, p_dates) WITH ORDINALITY AS u(body_id, size, internal_date, ord)
  )
  SELECT first_uid, first_modseq, uidvalidity FROM reserved
$$;

-- message_body_store: a body that fits one chunk (most messages), row and chunk at once; the id.
CREATE OR REPLACE FUNCTION message_body_store(p_size integer, p_sha256 bytea, p_chunk_size integer, p_data bytea)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO message_bodies (size, sha256, chunk_size) VALUES (p_size, p_sha256, p_chunk_size) RETURNING id INTO v_id;
  IF p_size > 0 THEN
    INSERT INTO message_body_chunks (body_id, seq, data) VALUES (v_id, 0, p_data);
  END IF;
  RETURN v_id;
END
$$;

-- mailbox_changes: what a session's sync reads (changes and expunges after p_modseq, as changesSince)
-- and, when p_claim_above is given (a read-write session whose highest known UID it is) and the
-- mailbox holds a higher UID, the \Recent claim (mailbox_claim_recent) first, under the row lock, so the
-- changes read after it include every message the claim covered. recent_from (the first UID recent
-- for this session) is on every row, null without a claim.
CREATE OR REPLACE FUNCTION mailbox_changes(p_mailbox bigint, p_modseq bigint, p_claim_above bigint)
RETURNS TABLE (uid bigint, modseq bigint, flags text[], recent_from bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_recent bigint;
BEGIN
  IF p_claim_above IS NOT NULL AND EXISTS (
    SELECT 1 FROM mailbox_messages mm WHERE mm.mailbox_id = p_mailbox AND mm.uid > p_claim_above
  ) THEN
    v_recent := mailbox_claim_recent(p_mailbox);
  END IF;
  RETURN QUERY
    SELECT c.uid, c.modseq, c.flags, v_recent FROM (
      SELECT mm.uid, mm.modseq, mm.flags FROM mailbox_messages mm WHERE mm.mailbox_id = p_mailbox AND mm.modseq > p_modseq
      UNION ALL
      SELECT e.uid, e.modseq, NULL FROM mailbox_expunges e WHERE e.mailbox_id = p_mailbox AND e.modseq > p_modseq
    ) c ORDER BY c.modseq, c.uid;
END
$$;
