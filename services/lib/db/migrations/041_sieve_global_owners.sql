-- Domains whose global Sieve scripts a MailDomain sets (spec.sieve, carried by the live domain config).
-- Written by mda when it stores those scripts; while a domain is listed here its global scripts are
-- exactly the MailDomain's and `hermod sieve global put|delete` refuses to change them (spec wins).
CREATE TABLE sieve_global_owners (
  domain     text PRIMARY KEY,
  owner      text NOT NULL,                   -- the live config's source, e.g. operator:mail/example
  updated_at timestamptz NOT NULL DEFAULT now()
);
