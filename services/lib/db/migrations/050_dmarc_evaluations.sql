-- Every DMARC evaluation of the MX (RFC 7489 section 7.2): the raw material of the aggregate
-- reports sent to the sending domains' rua addresses. Written in batches by mx, read, summed per
-- (policy domain, report period) and deleted by outbound-mta's report job once the report is
-- in the spool. Only evaluations against a published DMARC record are kept.
CREATE TABLE dmarc_evaluations (
  id bigserial PRIMARY KEY,
  evaluated_at timestamptz NOT NULL DEFAULT now(),
  -- The domain whose DMARC record applied (the organisational domain when the record was found there).
  policy_domain text NOT NULL,
  -- The DMARC record text as published at evaluation time (policy_published in the report).
  policy_record text NOT NULL,
  header_from text NOT NULL,
  source_ip inet NOT NULL,
  spf_domain text NOT NULL,
  spf_scope text NOT NULL CHECK (spf_scope IN ('mfrom', 'helo')),
  spf_result text NOT NULL,
  -- [{ "domain": ..., "selector": ..., "result": ... }] per DKIM signature.
  dkim jsonb NOT NULL DEFAULT '[]',
  dkim_aligned boolean NOT NULL,
  spf_aligned boolean NOT NULL,
  disposition text NOT NULL CHECK (disposition IN ('none', 'quarantine', 'reject'))
);
CREATE INDEX dmarc_evaluations_policy_domain ON dmarc_evaluations (policy_domain, evaluated_at);
