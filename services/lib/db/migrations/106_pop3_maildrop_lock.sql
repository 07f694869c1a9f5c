-- The POP3 maildrop lock (RFC 1939 section 8: "the POP3 server ... acquires an exclusive-access lock
-- on the maildrop"). One row per locked mailbox, shared by every imap replica. The holder is the
-- session's id; the lease is renewed while the session lives and released when it ends, so a replica
-- that dies leaves a lock that expires by itself.
CREATE TABLE pop3_maildrop_locks (
  mailbox_id  bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
