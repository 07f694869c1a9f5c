-- Foundation schema: accounts, message bodies stored once, mailboxes with IMAP UIDs, and the spool of
-- accepted messages that is the system of record between "250 after DATA" and final delivery.
-- Numbering: 001-009 foundation, 010-019 imap, 020-029 outbound, 030-039 mx/routing.

CREATE SEQUENCE mailbox_uidvalidity START WITH 1000000;
-- UIDVALIDITY must differ for a re-created mailbox name; a sequence guarantees it.

CREATE TABLE accounts (
  id            bigserial PRIMARY KEY,
  address       text NOT NULL UNIQUE,          -- canonical primary address, lower-case local@domain
  domain        text NOT NULL,
  password_hash text NOT NULL,                 -- argon2id PHC string
  quota_bytes   bigint,                        -- NULL: the domain default, else unlimited
  disabled      boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_domain ON accounts (domain);

-- Further addresses an account owns: it receives mail for them and may send as them.
CREATE TABLE account_addresses (
  address    text PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX account_addresses_account ON account_addresses (account_id);

-- A message's bytes, stored once however many mailboxes and recipients refer to it.
CREATE TABLE message_bodies (
  id            bigserial PRIMARY KEY,
  size          integer NOT NULL,
  sha256        bytea NOT NULL,
  chunk_size    integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Parsed structure cached by the first reader that needs it (IMAP ENVELOPE/BODYSTRUCTURE).
  header_size   integer,
  structure     jsonb
);

-- Bodies are cut into chunks so neither writer nor reader holds a large message whole in memory.
CREATE TABLE message_body_chunks (
  body_id bigint NOT NULL REFERENCES message_bodies (id) ON DELETE CASCADE,
  seq     integer NOT NULL,
  data    bytea NOT NULL,
  PRIMARY KEY (body_id, seq)
);

CREATE TABLE mailboxes (
  id             bigserial PRIMARY KEY,
  account_id     bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name           text NOT NULL,                -- full name, '/' separated; 'INBOX' always upper-case
  special_use    text,                         -- '\Sent', '\Drafts', '\Trash', '\Junk', '\Archive'
  subscribed     boolean NOT NULL DEFAULT true,
  uidvalidity    bigint NOT NULL,
  uidnext        bigint NOT NULL DEFAULT 1,
  highestmodseq  bigint NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, name)
);

CREATE TABLE mailbox_messages (
  mailbox_id    bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
  uid           bigint NOT NULL,
  body_id       bigint NOT NULL REFERENCES message_bodies (id),
  size          integer NOT NULL,
  internal_date timestamptz NOT NULL,
  flags         text[] NOT NULL DEFAULT '{}',
  modseq        bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX mailbox_messages_body ON mailbox_messages (body_id);

-- One row per completed local delivery: a redelivered queue message finds its key and stores nothing.
CREATE TABLE deliveries (
  delivery_key text PRIMARY KEY,               -- '<spool id>/<recipient index>'
  account_id   bigint NOT NULL,
  mailbox_id   bigint NOT NULL,
  uid          bigint NOT NULL,
  delivered_at timestamptz NOT NULL DEFAULT now()
);

-- Accepted messages. A row exists (committed, fsynced) before the SMTP server says 250.
CREATE TABLE spool_messages (
  id             uuid PRIMARY KEY,
  body_id        bigint NOT NULL REFERENCES message_bodies (id),
  mail_from      text NOT NULL,                -- '' is the null sender
  source         text NOT NULL,                -- 'msa' | 'mx' | 'local'
  account_id     bigint,                       -- the authenticated submitter, if any
  client_address text,
  client_helo    text,
  envelope       jsonb NOT NULL DEFAULT '{}',  -- MAIL FROM parameters (BODY, SMTPUTF8, RET, ENVID), TLS, auth
  trace_context  jsonb NOT NULL DEFAULT '{}',
  received_at    timestamptz NOT NULL DEFAULT now(),
  routed_at      timestamptz,
  completed_at   timestamptz,
  -- The sweeper republishes work for rows whose progress stalled past this moment.
  next_sweep_at  timestamptz NOT NULL
);
CREATE INDEX spool_messages_open ON spool_messages (next_sweep_at) WHERE completed_at IS NULL;

CREATE TABLE spool_recipients (
  spool_id     uuid NOT NULL REFERENCES spool_messages (id) ON DELETE CASCADE,
  rcpt_index   integer NOT NULL,
  address      text NOT NULL,
  parameters   jsonb NOT NULL DEFAULT '{}',    -- NOTIFY, ORCPT
  -- pending -> local | outbound | held -> delivered | failed
  state        text NOT NULL DEFAULT 'pending',
  destination  jsonb,
  last_error   text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (spool_id, rcpt_index)
);
CREATE INDEX spool_recipients_open ON spool_recipients (state, updated_at) WHERE state NOT IN ('delivered', 'failed');
