-- METADATA and METADATA-SERVER (RFC 5464): annotations on the server ("" mailbox) and on mailboxes,
-- private (one account's, account_id set) or shared (account_id NULL). Entry names are stored
-- lower-case with their /private or /shared prefix. A mailbox's entries go with it: DELETE removes
-- them (cascade), RENAME keeps them (the mailbox id does not change). Server shared entries
-- (mailbox_id and account_id NULL) are the administrator's: readable by every user, set here.
CREATE TABLE imap_metadata (
  mailbox_id bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
  account_id bigint REFERENCES accounts (id) ON DELETE CASCADE,
  name       text NOT NULL CHECK (name ~ '^/(private|shared)/[^*%]+$' AND name = lower(name)),
  value      bytea NOT NULL,
  CHECK ((name LIKE '/private/%') = (account_id IS NOT NULL))
);
CREATE UNIQUE INDEX imap_metadata_entry ON imap_metadata (coalesce(mailbox_id, 0), coalesce(account_id, 0), name);
-- TOOMANY counts an account's entries: its private ones and the shared ones of its mailboxes.
CREATE INDEX imap_metadata_account ON imap_metadata (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX imap_metadata_mailbox ON imap_metadata (mailbox_id) WHERE mailbox_id IS NOT NULL;
