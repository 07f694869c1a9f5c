-- COPY and MOVE into one of the account's own mailboxes in one statement. Before, COPY took four
-- round trips (the target by name, the sizes of the messages, the account's usage and limit, then
-- mailbox_copy) and MOVE two (the target by name, then mailbox_move); issue 15 asks one for each.
--
-- imap_copy_by_name: the mailbox p_name of account p_account; for a copy, the account's storage
-- limit (account_storage_fits below, with the sizes of the messages copied; a move within the
-- account takes no storage); then mailbox_copy or
-- mailbox_move (THE rules for UIDs, modseqs and the expunge of the originals). Rows: outcome
-- 'nonexistent' or 'overquota' (one row, nothing written), else 'copied' / 'moved' with one row per
-- message (source and target UIDs, modseq, UIDVALIDITY and, for a move, the source's expunge modseq),
-- or one row with NULL UIDs when none of the messages was there any more.
-- account_storage_fits: the storage-limit rule of the statements that add mail (as accountQuota +
-- MailBackend.fits in the imap service): no limit, or the account's usage plus p_bytes within it.
-- imap_append_by_name (092) had it inline; it now calls this, as imap_copy_by_name does.
CREATE FUNCTION account_storage_fits(p_account bigint, p_bytes bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_limit bigint;
BEGIN
  SELECT a.quota_bytes INTO v_limit FROM accounts a WHERE a.id = p_account;
  -- Two tests, not one expression: with the usage in the same expression as the limit's test,
  -- PostgreSQL planned the expression on every call (a custom plan folds an absent limit away).
  IF v_limit IS NULL THEN
    RETURN true;
  END IF;
  RETURN (SELECT coalesce(sum(m.message_bytes), 0) FROM mailboxes m WHERE m.account_id = p_account)
    + p_bytes <= v_limit;
END
$$;

CREATE FUNCTION imap_copy_by_name(p_account bigint, p_name text, p_from bigint, p_uids bigint[],
  p_move boolean)
RETURNS TABLE (outcome text, mailbox_id bigint, source bigint, target bigint, modseq bigint,
  uidvalidity bigint, expunge_modseq bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_mailbox bigint;
  v_rows bigint;
BEGIN
  SELECT m.id INTO v_mailbox FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
  IF v_mailbox IS NULL THEN
    RETURN QUERY SELECT 'nonexistent'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
      NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  IF p_move THEN
    RETURN QUERY SELECT 'moved'::text, v_mailbox, c.source, c.target, c.modseq, c.uidvalidity, c.expunge_modseq
      FROM mailbox_move(p_from, p_uids, v_mailbox) c;
  ELSIF NOT account_storage_fits(p_account, (SELECT coalesce(sum(mm.size), 0) FROM mailbox_messages mm
      WHERE mm.mailbox_id = p_from AND mm.uid = ANY (p_uids))) THEN
    RETURN QUERY SELECT 'overquota'::text, v_mailbox, NULL::bigint, NULL::bigint, NULL::bigint,
      NULL::bigint, NULL::bigint;
    RETURN;
  ELSE
    RETURN QUERY SELECT 'copied'::text, v_mailbox, c.source, c.target, c.modseq, c.uidvalidity, NULL::bigint
      FROM mailbox_copy(p_from, p_uids, v_mailbox) c;
  END IF;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows = 0 THEN
    RETURN QUERY SELECT CASE WHEN p_move THEN 'moved' ELSE 'copied' END, v_mailbox, NULL::bigint,
      NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION imap_append_by_name(p_account bigint, p_name text, p_size integer, p_sha256 bytea,
  p_chunk_size integer, p_data bytea, p_structure jsonb, p_header_size integer,
  p_internal_date timestamptz, p_flags jsonb, p_zone smallint)
RETURNS TABLE (outcome text, mailbox_id bigint, first_uid bigint, first_modseq bigint, uidvalidity bigint,
  body_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_mailbox bigint;
  v_body bigint;
BEGIN
  SELECT m.id INTO v_mailbox FROM mailboxes m WHERE m.account_id = p_account AND m.name = p_name;
  IF v_mailbox IS NULL THEN
    RETURN QUERY SELECT 'nonexistent'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  IF NOT account_storage_fits(p_account, p_size) THEN
    RETURN QUERY SELECT 'overquota'::text, v_mailbox, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint;
    RETURN;
  END IF;
  v_body := message_body_store(p_size, p_sha256, p_chunk_size, p_data, p_structure, p_header_size);
  RETURN QUERY SELECT 'appended'::text, v_mailbox, a.first_uid, a.first_modseq, a.uidvalidity, v_body
    FROM mailbox_append(v_mailbox, ARRAY[v_body], ARRAY[p_size], ARRAY[p_internal_date], p_flags,
      ARRAY[p_zone]) a;
END
$$;
