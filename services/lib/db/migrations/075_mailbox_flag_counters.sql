-- SELECT and STATUS read counters instead of counting a mailbox's rows. Besides message_count and
-- message_bytes (migration 032), each mailbox keeps how many of its messages lack \Seen and how many
-- (and how many bytes) carry \Deleted. The statement triggers of migration 032 now also see flag
-- changes and moves (UPDATE), so every writer keeps all five counters in the transaction of its
-- write. Every writer already holds the mailbox row's lock when its trigger runs (UIDs are reserved
-- on it before an insert, a STORE or an expunge takes the next modseq on it first), so the counters
-- stay exact under concurrent sessions and the triggers add no lock.
ALTER TABLE mailboxes
  ADD COLUMN unseen_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN deleted_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN deleted_bytes bigint NOT NULL DEFAULT 0;

UPDATE mailboxes b SET unseen_count = u.unseen, deleted_count = u.deleted, deleted_bytes = u.deleted_bytes
FROM (SELECT mailbox_id,
        count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
        count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
        coalesce(sum(size) FILTER (WHERE '\Deleted' = ANY (flags)), 0) AS deleted_bytes
      FROM mailbox_messages GROUP BY mailbox_id) u
WHERE b.id = u.mailbox_id;

-- Rows entering (sign 1) or leaving (sign -1) a mailbox's counts.
CREATE OR REPLACE FUNCTION count_mailbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER mailbox_messages_count_changed AFTER UPDATE ON mailbox_messages
  REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION count_mailbox_messages();
