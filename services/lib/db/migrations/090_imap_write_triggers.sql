-- CPU per IMAP command in PostgreSQL (bench/imap-queries.ts --statements, and perf on the backend
-- of a STORE loop): the statement triggers of mailbox_messages and the layering of STORE cost more
-- than the change itself. Same results as before; fewer and simpler statements per write.
--
-- count_mailbox_messages (075): the deltas of a statement are summed in one aggregate; when they
-- concern one mailbox (every IMAP command, every delivery) its row is updated by key, and not at all
-- when nothing counted changed (a flag other than \Seen and \Deleted). Before, each write joined
-- the grouped transition tables to mailboxes (a hash join and a grouped aggregate set up per
-- statement) and updated the mailbox row even for a change that moved no counter, which, the row
-- having been updated before in the transaction (the modseq), also ran the foreign key check of
-- mailboxes.account_id. Statements spanning several mailboxes keep 075's grouped update.
CREATE OR REPLACE FUNCTION count_mailbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_first bigint;
  v_last bigint;
  v_n bigint;
  v_bytes bigint;
  v_unseen bigint;
  v_deleted bigint;
  v_deleted_bytes bigint;
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
    SELECT min(mailbox_id), max(mailbox_id), sum(sign), sum(sign * size),
        coalesce(sum(sign) FILTER (WHERE NOT ('\Seen' = ANY (flags))), 0),
        coalesce(sum(sign) FILTER (WHERE '\Deleted' = ANY (flags)), 0),
        coalesce(sum(sign * size) FILTER (WHERE '\Deleted' = ANY (flags)), 0)
      INTO v_first, v_last, v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes
      FROM (SELECT 1 AS sign, mailbox_id, size, flags FROM added
            UNION ALL SELECT -1, mailbox_id, size, flags FROM removed) x;
  END IF;
  IF v_first IS NULL THEN
    RETURN NULL; -- no rows
  END IF;
  -- One mailbox (every IMAP command and delivery): its row by key, if a counter moved (not for a
  -- flag change other than \Seen and \Deleted).
  IF v_first = v_last THEN
    IF (v_n, v_bytes, v_unseen, v_deleted, v_deleted_bytes) = (0, 0, 0, 0, 0) THEN
      RETURN NULL;
    END IF;
    UPDATE mailboxes SET message_count = message_count + v_n, message_bytes = message_bytes + v_bytes,
      unseen_count = unseen_count + v_unseen, deleted_count = deleted_count + v_deleted,
      deleted_bytes = deleted_bytes + v_deleted_bytes
    WHERE id = v_first;
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
      deleted_bytes = b.deleted_bytes + d.deleted_bytes
    FROM (SELECT mailbox_id, sum(sign) AS n, sum(sign * size) AS bytes,
            coalesce(sum(sign) FILTER (WHERE NOT ('\Seen' = ANY (flags))), 0) AS unseen,
            coalesce(sum(sign) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted,
            coalesce(sum(sign * size) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted_bytes
          FROM (SELECT 1 AS sign, mailbox_id, size, flags FROM added
                UNION ALL SELECT -1, mailbox_id, size, flags FROM removed) x
          GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id
      AND (d.n, d.bytes, d.unseen, d.deleted, d.deleted_bytes) IS DISTINCT FROM (0, 0, 0, 0, 0);
  END IF;
  RETURN NULL;
END $$;

-- A flag change starts a quarantine action only when it adds $QuarantineRelease or
-- $QuarantineDelete to a notice (070, 080). As a row trigger whose WHEN clause tests the new flags,
-- an ordinary STORE runs no trigger function at all (the statement trigger ran a join per STORE).
-- The rows and the actions they record are the same as 080's.
DROP TRIGGER mailbox_messages_quarantine_flagged ON mailbox_messages;

CREATE OR REPLACE FUNCTION quarantine_actions_flagged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO quarantine_user_actions (quarantine_id, account_id, action)
  SELECT h.quarantine_id, b.account_id, k.action
  FROM (VALUES ('$QuarantineRelease', 'release'), ('$QuarantineDelete', 'delete')) k (keyword, action)
  CROSS JOIN LATERAL (
    SELECT q.id FROM quarantine_messages q WHERE q.notice_body_id = NEW.body_id
    UNION ALL
    SELECT e.id FROM quarantine_digests d CROSS JOIN LATERAL unnest(d.entry_ids) e (id)
    WHERE d.body_id = NEW.body_id
  ) h (quarantine_id)
  JOIN mailboxes b ON b.id = NEW.mailbox_id
  WHERE k.keyword = ANY (NEW.flags) AND NOT (k.keyword = ANY (OLD.flags))
    -- As 080's join of old and new rows by (mailbox_id, uid): a row that changed mailbox is new there.
    AND OLD.mailbox_id = NEW.mailbox_id AND OLD.uid = NEW.uid;
  RETURN NULL;
END $$;

CREATE TRIGGER mailbox_messages_quarantine_flagged AFTER UPDATE ON mailbox_messages FOR EACH ROW
  WHEN (NEW.flags && ARRAY['$QuarantineRelease', '$QuarantineDelete'] AND NEW.flags IS DISTINCT FROM OLD.flags)
  EXECUTE FUNCTION quarantine_actions_flagged();

-- imap_store_flags (081) with the same rows: the changed messages straight from imap_update_flags
-- (no loop collecting their UIDs), and the messages left alone read only when some named UID was
-- not changed. The changed rows carry the modseq just taken, the mailbox's highest, under its row
-- lock until commit; every other message's modseq is lower.
CREATE OR REPLACE FUNCTION imap_store_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[])
RETURNS TABLE (uid bigint, flags text[], modseq bigint, changed boolean) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_changed bigint;
BEGIN
  RETURN QUERY
    SELECT u.uid, u.flags, u.modseq, true FROM imap_update_flags(p_mailbox, p_uids, p_operation, p_flags) u;
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_changed = 0 THEN
    RETURN QUERY
      SELECT mm.uid, mm.flags, mm.modseq, false FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
      ORDER BY mm.uid;
  ELSIF v_changed < cardinality(p_uids) THEN
    RETURN QUERY
      SELECT mm.uid, mm.flags, mm.modseq, false FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids)
        AND mm.modseq < (SELECT m.highestmodseq FROM mailboxes m WHERE m.id = p_mailbox)
      ORDER BY mm.uid;
  END IF;
END
$$;

-- mailbox_append (089): PostgreSQL chose a custom plan for its statement on every call (the generic
-- plan's estimate for unnest of the arrays looked dearer), planning it again per APPEND and delivery
-- (about 100 us). The generic plan is the same plan.
ALTER FUNCTION mailbox_append(bigint, bigint[], integer[], timestamptz[], jsonb, smallint[])
  SET plan_cache_mode = force_generic_plan;
