-- IMAP: expunge log (sessions learn of expunges by modseq, QRESYNC reports VANISHED from it),
-- change lookups by modseq, and which UIDs are still \Recent.

CREATE TABLE mailbox_expunges (
  mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
  uid        bigint NOT NULL,
  modseq     bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX mailbox_expunges_modseq ON mailbox_expunges (mailbox_id, modseq);

CREATE INDEX mailbox_messages_modseq ON mailbox_messages (mailbox_id, modseq);

-- UIDs >= recent_uid have not yet been shown to any read-write session (\Recent, RFC 3501 2.3.2).
ALTER TABLE mailboxes ADD COLUMN recent_uid bigint NOT NULL DEFAULT 1;
