-- spool_mark_recipients (migration 064) is THE recipient rule of the spool. Its completion step
-- checked "no recipient left open" against the statement's snapshot only, so two transactions that
-- each finished the last open recipient of one message (two destinations, or a local and a remote
-- recipient, at the same moment) each saw the other's recipient still open and neither completed
-- it: the message stayed open for good. The messages of p_messages are now locked (in id order, so
-- concurrent callers cannot deadlock on them) before they are checked: the second caller waits for
-- the first to commit and its check, a new statement with a new snapshot, sees the first's changes.
-- Same signature and result as before.
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
  PERFORM 1 FROM spool_messages m WHERE m.id = ANY (p_messages) ORDER BY m.id FOR NO KEY UPDATE;
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
