-- A non-silent STORE reports the flags of every message it names, changed or not (RFC 3501 6.4.6,
-- RFC 9051 6.4.6): imap_store_flags applies imap_update_flags (the one flag-update rule, migration
-- 011) and also returns the messages it left alone, so a STORE that changes nothing (+FLAGS of a flag
-- already set, common from clients) is still one round trip. The unchanged rows are read after the
-- update, with a fresh snapshot, so they are as current as the changed ones.
CREATE OR REPLACE FUNCTION imap_store_flags(p_mailbox bigint, p_uids bigint[], p_operation text, p_flags text[])
RETURNS TABLE (uid bigint, flags text[], modseq bigint, changed boolean) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_changed bigint[] := '{}';
BEGIN
  FOR r IN SELECT u.uid, u.flags, u.modseq FROM imap_update_flags(p_mailbox, p_uids, p_operation, p_flags) u LOOP
    uid := r.uid;
    flags := r.flags;
    modseq := r.modseq;
    changed := true;
    v_changed := v_changed || r.uid;
    RETURN NEXT;
  END LOOP;
  RETURN QUERY
    SELECT mm.uid, mm.flags, mm.modseq, false FROM mailbox_messages mm
    WHERE mm.mailbox_id = p_mailbox AND mm.uid = ANY (p_uids) AND NOT (mm.uid = ANY (v_changed))
    ORDER BY mm.uid;
END
$$;
