-- APPEND of one small message to one of the account's own mailboxes in one statement. Before, it took
-- three: the mailbox by name, the account's quota and usage (both at once on two connections), then
-- the append (message_body_store + mailbox_append); and the first FETCH of the new message parsed it
-- and wrote its structure with a fourth (an UPDATE of message_bodies, with its own commit). Every
-- statement costs PostgreSQL and the imap service about 30 us each whatever it does, and a commit
-- 65-90 us of kernel CPU, so the lookups and the structure now go with the append itself.

-- message_body_store (076) also takes the parsed structure and header size when the caller has them
-- (APPEND parses the message before storing it), so the body row is written once, complete. Callers
-- with four arguments get the old behaviour (structure left for the first reader).
DROP FUNCTION message_body_store(integer, bytea, integer, bytea);
CREATE FUNCTION message_body_store(p_size integer, p_sha256 bytea, p_chunk_size integer, p_data bytea,
  p_structure jsonb DEFAULT NULL, p_header_size integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO message_bodies (size, sha256, chunk_size, structure, header_size)
  VALUES (p_size, p_sha256, p_chunk_size, p_structure, p_header_size) RETURNING id INTO v_id;
  IF p_size > 0 THEN
    INSERT INTO message_body_chunks (body_id, seq, data) VALUES (v_id, 0, p_data);
  END IF;
  RETURN v_id;
END
$$;

-- imap_append_by_name: the mailbox p_name of account p_account, then the account's storage limit
-- (the same rule as accountQuota + MailBackend.fits: no limit, or usage + p_size <= limit), then the
-- body (message_body_store) and the message (mailbox_append, THE rule for UIDs and modseqs). One row:
-- outcome 'nonexistent' (nothing written), 'overquota' (nothing written), or 'appended' with the
-- mailbox, the new UID and modseq, the mailbox's UIDVALIDITY and the body's id.
CREATE FUNCTION imap_append_by_name(p_account bigint, p_name text, p_size integer, p_sha256 bytea,
  p_chunk_size integer, p_data bytea, p_structure jsonb, p_header_size integer,
  p_internal_date timestamptz, p_flags jsonb, p_zone smallint)
RETURNS TABLE (outcome text, mailbox_id bigint, first_uid bigint, first_modseq bigint, uidvalidity bigint,
  body_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_mailbox bigint;
  v_limit bigint;
  v_body bigint;
BEGIN
  SELECT m.id INTO v_mailbox FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
  IF v_mailbox IS NULL THEN
    RETURN QUERY SELECT 'nonexistent'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  SELECT a.quota_bytes INTO v_limit FROM accounts a WHERE a.id = p_account;
  -- Two tests, not one expression: with the usage in the same expression as the limit's test,
  -- PostgreSQL planned the expression on every call (a custom plan folds an absent limit away).
  IF v_limit IS NOT NULL THEN
    IF (SELECT coalesce(sum(m.message_bytes), 0) FROM mailboxes m WHERE m.account_id = p_account) + p_size > v_limit THEN
      RETURN QUERY SELECT 'overquota'::text, v_mailbox, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
      RETURN;
    END IF;
  END IF;
  v_body := message_body_store(p_size, p_sha256, p_chunk_size, p_data, p_structure, p_header_size);
  RETURN QUERY SELECT 'appended'::text, v_mailbox, a.first_uid, a.first_modseq, a.uidvalidity, v_body
    FROM mailbox_append(v_mailbox, ARRAY[v_body], ARRAY[p_size], ARRAY[p_internal_date], p_flags,
      ARRAY[p_zone]) a;
END
$$;
