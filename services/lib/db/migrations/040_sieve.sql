-- Sieve (RFC 5228): the users' own filters, the domains' global rules, and what the filters remember.
-- Numbering: 040-049 sieve. Owned by @hermod/sieve-store (the only module with SQL on these tables).

-- A user's scripts, managed over ManageSieve (RFC 5804) or the CLI. The source is kept as uploaded
-- (GETSCRIPT returns it byte for byte); the compiled form is what delivery runs, so a script is never
-- parsed on the delivery path. At most one script per account is active.
CREATE TABLE sieve_scripts (
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name       text NOT NULL,
  source     text NOT NULL,
  compiled   text NOT NULL,                   -- serializeCompiled() of @hermod/sieve
  active     boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, name),
  -- Checked at the end of the statement, so one UPDATE can switch the active script.
  CONSTRAINT sieve_scripts_one_active EXCLUDE (account_id WITH =) WHERE (active) DEFERRABLE INITIALLY IMMEDIATE
);

-- A domain's scripts set by the administrator: 'before' runs ahead of every user's script of the
-- domain, 'after' behind it; 'library' scripts only serve `include :global`.
CREATE TABLE sieve_global_scripts (
  domain     text NOT NULL,
  name       text NOT NULL,
  phase      text NOT NULL CHECK (phase IN ('before', 'after', 'library')),
  source     text NOT NULL,
  compiled   text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (domain, name),
  -- One 'before' and one 'after' script per domain; checked at the end of the statement (replacing).
  CONSTRAINT sieve_global_scripts_phase EXCLUDE (domain WITH =, phase WITH =) WHERE (phase <> 'library')
    DEFERRABLE INITIALLY IMMEDIATE
);

-- What filters remember between deliveries, until it expires: vacation responses (RFC 5230: one reply
-- per sender per :days, keyed on the vacation handle), `duplicate` ids (RFC 7352), and how many
-- automatic replies an account sent in the current hour (the per-account rate limit).
CREATE TABLE sieve_tracking (
  account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('vacation', 'duplicate', 'replies')),
  key        text NOT NULL,                   -- vacation: '<handle length>:<handle>:<sender>'; duplicate: the id; replies: the hour
  count      integer NOT NULL DEFAULT 1,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, kind, key)
);
CREATE INDEX sieve_tracking_expiry ON sieve_tracking (expires_at);
