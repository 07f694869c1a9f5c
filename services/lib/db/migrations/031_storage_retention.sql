-- Retention: completed spool messages are deleted after a configurable time, and a message body is
-- deleted once nothing refers to it (no mailbox message, no spool message). Deleting a row that
-- refers to a body records the body as a candidate; the collector deletes candidates that are
-- unreferenced. The foreign keys stay the last word: a body something still refers to cannot be
-- deleted, whatever races with the collector.
CREATE TABLE message_body_gc (
  body_id bigint PRIMARY KEY
);

CREATE FUNCTION note_body_gc_candidates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_body_gc (body_id) SELECT DISTINCT body_id FROM gone ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER mailbox_messages_body_gc AFTER DELETE ON mailbox_messages
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION note_body_gc_candidates();
CREATE TRIGGER spool_messages_body_gc AFTER DELETE ON spool_messages
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION note_body_gc_candidates();

-- Finds expired spool messages without a scan; lets a body's deletion check spool references by index.
CREATE INDEX spool_messages_completed ON spool_messages (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX spool_messages_body ON spool_messages (body_id);
