-- Reports other organisations send to our own domains' rua addresses (issue 19): DMARC aggregate
-- reports (RFC 7489 section 7.2) and SMTP TLS reports (RFC 8460), parsed by mda when it delivers
-- the mail that carries them. One row per report file; source_key (spool id and attachment
-- position) makes a redelivered message store its reports once.
CREATE TABLE received_reports (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('dmarc', 'tlsrpt')),
  source_key text NOT NULL UNIQUE,
  org_name text NOT NULL,
  contact text NOT NULL DEFAULT '',
  report_id text NOT NULL,
  policy_domain text NOT NULL,
  begin_at timestamptz NOT NULL,
  end_at timestamptz NOT NULL,
  -- DMARC: policy_published; TLS-RPT: the policies of the report.
  policy jsonb NOT NULL DEFAULT '{}',
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX received_reports_domain ON received_reports (policy_domain, end_at);
CREATE INDEX received_reports_end ON received_reports (end_at);

-- The report's lines: a DMARC record (source IP, pass/fail, disposition, message count) or a
-- TLS-RPT result of a policy ('successful' or the failure's result type, session count).
CREATE TABLE received_report_records (
  report bigint NOT NULL REFERENCES received_reports (id) ON DELETE CASCADE,
  line integer NOT NULL,
  source_ip text NOT NULL DEFAULT '',
  result text NOT NULL,
  disposition text NOT NULL DEFAULT '',
  count bigint NOT NULL CHECK (count >= 0),
  details jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (report, line)
);
