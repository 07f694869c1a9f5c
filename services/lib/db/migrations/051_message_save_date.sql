-- SAVEDATE (RFC 8514): when a message was saved in its current mailbox (delivery, APPEND, COPY, MOVE
-- all insert a new mailbox_messages row, so the column default is the one rule). Rows stored before
-- this migration keep NULL, read as their internal date, and adding the column rewrites no table.
ALTER TABLE mailbox_messages ADD COLUMN saved_at timestamptz;
ALTER TABLE mailbox_messages ALTER COLUMN saved_at SET DEFAULT now();
