-- IMAP subscriptions are a list of names of their own (RFC 3501 6.3.6-6.3.9, RFC 9051 6.3.9), not a
-- mailbox property: CREATE does not subscribe, DELETE does not unsubscribe, and a subscribed name
-- may have no mailbox (LIST reports it \Subscribed \NonExistent). Names are stored as the IMAP
-- service normalises them ('INBOX' upper-case, '/' separated).
CREATE TABLE mailbox_subscriptions (
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name       text NOT NULL,
  PRIMARY KEY (account_id, name)
);

INSERT INTO mailbox_subscriptions (account_id, name)
SELECT account_id, name FROM mailboxes WHERE subscribed;

ALTER TABLE mailboxes DROP COLUMN subscribed;
