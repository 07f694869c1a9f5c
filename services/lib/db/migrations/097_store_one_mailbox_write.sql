-- STORE writes its mailbox's row once instead of twice (bench/imap-queries.ts --statements).
--
-- Before, imap_update_flags took the modseq with imap_next_modseq (an UPDATE of the mailbox row),
-- then the counter trigger of the flag UPDATE (075, 090) updated the same row again for \Seen and
-- \Deleted: a second row version and, the row having been updated before in the transaction, the
-- foreign key check of mailboxes.account_id. Now imap_update_flags only locks the row (the same
-- lock mode an UPDATE that changes no key takes, so writers queue as before) and reads the next
-- modseq under that lock; the changed messages carry it, and the counter trigger of an UPDATE
-- raises the mailbox's highestmodseq to its rows' highest modseq in the same row update as the
-- counters. Same modseqs and counters as before: the changed messages share the mailbox's next
-- modseq, which is its highestmodseq at commit; nothing changed, no modseq taken.
-- imap_next_modseq (EXPUNGE, UNCHANGEDSINCE) and mailbox_reserve (APPEND, COPY, delivery) still
-- raise highestmodseq themselves; for their rows the trigger's greatest() changes nothing.

CREATE OR REPLACE FUNCTION count_mailbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_first bigint;
  v_last bigint;
  v_n bigint;
  v_bytes bigint;
  v_unseen bigint;
  v_deleted bigint;
  v_deleted_bytes bigint;
  v_modseq bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT min(mailbox_id), max(mailbox_id), count(*), sum(size),
        count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))),
        count(*) FILTER (WHERE '\Deleted' = ANY (flags)),
        coalesce(sum(size) FILTER (WHERE '\Deleted' = ANY (flags)), 0)
      INTO v_first, v_last, v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes
      FROM added;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT min(mailbox_id), max(mailbox_id), -count(*), -sum(size),
        -count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))),
        -count(*) FILTER (WHERE '\Deleted' = ANY (flags)),
        -coalesce(sum(size) FILTER (WHERE '\Deleted' = ANY (flags)), 0)
      INTO v_first, v_last, v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes
      FROM removed;
  ELSE
    -- An UPDATE's new rows also carry the modseq the writer took (imap_update_flags: under the
    -- mailbox row's lock, not yet written to the row).
    SELECT min(mailbox_id), max(mailbox_id), sum(sign), sum(sign * size),
        coalesce(sum(sign) FILTER (WHERE NOT ('\Seen' = ANY (flags))), 0),
        coalesce(sum(sign) FILTER (WHERE '\Deleted' = ANY (flags)), 0),
        coalesce(sum(sign * size) FILTER (WHERE '\Deleted' = ANY (flags)), 0),
        max(modseq) FILTER (WHERE sign = 1)
      INTO v_first, v_last, v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes, v_modseq
      FROM (SELECT 1 AS sign, mailbox_id, size, flags, modseq FROM added
            UNION ALL SELECT -1, mailbox_id, size, flags, modseq FROM removed) x;
  END IF;
  IF v_first IS NULL THEN
    RETURN NULL; -- no rows
  END IF;
  -- One mailbox (every IMAP command and delivery): its row by key, if a counter moved or (UPDATE)
  -- the rows carry a modseq above the mailbox's highest.
  IF v_first = v_last THEN
    IF v_modseq IS NULL THEN
      IF (v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes) = (0, 0, 0, 0, 0) THEN
        RETURN NULL;
      END IF;
      UPDATE mailboxes SET message_count = message_count + v_n, message_bytes = message_bytes + v_bytes,
        unseen_count = unseen_count + v_unseen, deleted_count = deleted_count + v_deleted,
        deleted_bytes = deleted_bytes + v_deleted_bytes
      WHERE id = v_first;
      RETURN NULL;
    END IF;
    UPDATE mailboxes SET message_count = message_count + v_n, message_bytes = message_bytes + v_bytes,
      unseen_count = unseen_count + v_unseen, deleted_count = deleted_count + v_deleted,
      deleted_bytes = deleted_bytes + v_deleted_bytes, highestmodseq = greatest(highestmodseq, v_modseq)
    WHERE id = v_first
      AND ((v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes) IS DISTINCT FROM (0, 0, 0, 0, 0)
        OR highestmodseq < v_modseq);
    RETURN NULL;
  END IF;
  -- Several mailboxes in one statement (moves between mailboxes, bulk writers): per mailbox, as 075.
  IF TG_OP = 'INSERT' THEN
    UPDATE mailboxes b SET message_count = b.message_count + d.n, message_bytes = b.message_bytes + d.bytes,
      unseen_count = b.unseen_count + d.unseen, deleted_count = b.deleted_count + d.deleted,
      deleted_bytes = b.deleted_bytes + d.deleted_bytes
    FROM (SELECT mailbox_id, count(*) AS n, sum(size) AS bytes,
            count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
            count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
            coalesce(sum(size) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted_bytes
          FROM added GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE mailboxes b SET message_count = b.message_count - d.n, message_bytes = b.message_bytes - d.bytes,
      unseen_count = b.unseen_count - d.unseen, deleted_count = b.deleted_count - d.deleted,
      deleted_bytes = b.deleted_bytes - d.deleted_bytes
    FROM (SELECT mailbox_id, count(*) AS n, sum(size) AS bytes,
            count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
            count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
            coalesce(sum(size) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted_bytes
          FROM removed GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  ELSE
    UPDATE mailboxes b SET message_count = b.message_count + d.n, message_bytes = b.message_bytes + d.bytes,
      unseen_count = b.unseen_count + d.unseen, deleted_count = b.deleted_count + d.deleted,
      deleted_bytes = b.deleted_bytes + d.deleted_bytes, highestmodseq = greatest(b.highestmodseq, d.modseq)
    FROM (SELECT mailbox_id, sum(sign) AS n, sum(sign * size) AS bytes,
            coalesce(sum(sign) FILTER (WHERE NOT ('\Seen' = ANY (flags))), 0) AS unseen,
            coalesce(sum(sign) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted,
            coalesce(sum(sign * size) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted_bytes,
            max(modseq) FILTER (WHERE sign = 1) AS modseq
          FROM (SELECT 1 AS sign, mailbox_id, size, flags, modseq FROM added
                UNION ALL SELECT -1, mailbox_id, size, flags, modseq FROM removed) x
          GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id
      AND ((d.n, d.bytes, d.unseen, d.deleted, d.deleted_bytes) IS DISTINCT FROM (0, 0, 0, 0, 0)
        OR b.highestmodseq < d.modseq);
  END IF;
  RETURN NULL;
END $$;

-- imap_update_flags (082): the next modseq read under the mailbox row's lock (FOR NO KEY UPDATE, the
-- lock imap_next_modseq's UPDATE took; a writer waiting for it reads the committed row after), and
-- written to the row by the counter trigger of the flag UPDATE, with the counters.
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
  SELECT m.highestmodseq + 1 INTO v_modseq FROM mailboxes m WHERE m.id = p_mailbox FOR NO KEY UPDATE;
  IF v_modseq IS NULL THEN
    RAISE EXCEPTION 'mailbox % does not exist', p_mailbox;
  END IF;
  RETURN QUERY
    UPDATE mailbox_messages mm SET flags = imap_next_flags(mm.flags, p_operation, p_flags), modseq = v_modseq
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      AND imap_flags_change(mm.flags, p_operation, p_flags)
    RETURNING mm.uid, mm.flags, mm.modseq;
END
$$;
