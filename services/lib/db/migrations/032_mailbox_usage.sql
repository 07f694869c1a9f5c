-- Message count and bytes per mailbox, kept with the mailbox rows, so a quota check (mda before it
-- stores, IMAP GETQUOTA and APPEND) sums an account's mailboxes instead of all of its messages.
-- Maintained by statement triggers on INSERT and DELETE of mailbox_messages. Every writer already
-- holds the mailbox row's lock at that point (UIDs are reserved on it before an insert; an expunge
-- or move bumps its modseq before it deletes), so the triggers add no lock. The one statement that
-- moves messages between mailboxes (RENAME INBOX) recounts both mailboxes itself.
ALTER TABLE mailboxes
  ADD COLUMN message_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN message_bytes bigint NOT NULL DEFAULT 0;

UPDATE mailboxes b SET message_count = u.n, message_bytes = u.bytes
FROM (SELECT mailbox_id, count(*) AS n, sum(size) AS bytes FROM mailbox_messages GROUP BY mailbox_id) u
WHERE b.id = u.mailbox_id;

CREATE FUNCTION count_mailbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE mailboxes b SET message_count = b.message_count + d.n, message_bytes = b.message_bytes + d.bytes
    FROM (SELECT mailbox_id, count(*) AS n, sum(size) AS bytes FROM added GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  ELSE
    UPDATE mailboxes b SET message_count = b.message_count - d.n, message_bytes = b.message_bytes - d.bytes
    FROM (SELECT mailbox_id, count(*) AS n, sum(size) AS bytes FROM removed GROUP BY mailbox_id) d
    WHERE b.id = d.mailbox_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER mailbox_messages_count_added AFTER INSERT ON mailbox_messages
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION count_mailbox_messages();
CREATE TRIGGER mailbox_messages_count_removed AFTER DELETE ON mailbox_messages
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION count_mailbox_messages();
