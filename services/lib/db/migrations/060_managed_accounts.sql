-- Accounts and groups declared as Kubernetes resources (MailUser, MailGroup; issue 17).
-- managed_by names the owning resource ('MailUser <namespace>/<name>'): such rows are changed only
-- by the operator, and the CLI refuses to touch them with an error that names the owner.
ALTER TABLE accounts
  ADD COLUMN display_name text,
  ADD COLUMN managed_by text,
  -- Where the operator took the password from ('<secret>/<key>@<resourceVersion>'): it hashes a
  -- plaintext again only when this changes. Names a version, never holds anything of the secret.
  ADD COLUMN password_source text,
  -- Addresses a copy of every message is forwarded to (external ones with SRS).
  ADD COLUMN forward_to text[] NOT NULL DEFAULT '{}',
  -- With forwarding: whether the account keeps its own copy too.
  ADD COLUMN forward_keep_copy boolean NOT NULL DEFAULT true,
  -- Addresses the account may send as without receiving their mail.
  ADD COLUMN send_as text[] NOT NULL DEFAULT '{}';

-- Distribution lists: mail to address is delivered to every member (local or external), if the
-- sender may send to the group (sender_policy): anyone, the members, the listed senders
-- (addresses or domains), or senders of the group's own domain.
CREATE TABLE mail_groups (
  address         text PRIMARY KEY,
  domain          text NOT NULL,
  display_name    text,
  members         text[] NOT NULL,
  sender_policy   text NOT NULL CHECK (sender_policy IN ('anyone', 'members', 'listed', 'domain')),
  allowed_senders text[] NOT NULL DEFAULT '{}',
  managed_by      text,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_groups_domain ON mail_groups (domain);
