-- IMAP ACL (RFC 4314), owned by @hermod/mail-store (src/acl.ts). One row per (mailbox, identifier):
-- the rights another account of the owner's domain holds on the mailbox, or 'anyone' (every account
-- of that domain). The owner holds every right implicitly and has no row. Entries belong to the
-- mailbox id: RENAME keeps them, DELETE removes them (cascade), and deleting the grantee's account
-- removes its entries. Negative rights ("-identifier") are not supported.
CREATE TABLE mailbox_acl (
  mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
  -- NULL for 'anyone'.
  grantee_id bigint REFERENCES accounts (id) ON DELETE CASCADE,
  rights     text NOT NULL CHECK (rights ~ '^l?r?s?w?i?p?k?x?t?e?a?$' AND rights <> '')
);
CREATE UNIQUE INDEX mailbox_acl_entry ON mailbox_acl (mailbox_id, coalesce(grantee_id, 0));
-- "Which mailboxes of others may this account see": LIST of the shared namespace.
CREATE INDEX mailbox_acl_grantee ON mailbox_acl (grantee_id);
