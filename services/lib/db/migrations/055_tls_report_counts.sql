-- SMTP TLS Reporting (RFC 8460): outbound-mta's TLS session results, counted per policy domain,
-- report period and policy (type, policy strings, mx patterns) and, for failures, per result type
-- (section 4.3) and receiving MX. Each replica adds its counts in batches; the report job reads an
-- ended period, sends one JSON report per policy domain to the rua of `_smtp._tls.<domain>` and
-- deletes the period. A successful session has result_type ''.
CREATE TABLE tls_report_counts (
  policy_domain text NOT NULL,
  period_start timestamptz NOT NULL,
  policy_type text NOT NULL CHECK (policy_type IN ('tlsa', 'sts', 'no-policy-found')),
  -- JSON arrays of strings: the policy as published (section 4.4 policy-string, mx-host).
  policy_strings text NOT NULL DEFAULT '[]',
  mx_hosts text NOT NULL DEFAULT '[]',
  result_type text NOT NULL DEFAULT '',
  receiving_mx_hostname text NOT NULL DEFAULT '',
  receiving_ip text NOT NULL DEFAULT '',
  sessions bigint NOT NULL CHECK (sessions > 0),
  PRIMARY KEY (policy_domain, period_start, policy_type, policy_strings, mx_hosts, result_type,
    receiving_mx_hostname, receiving_ip)
);
CREATE INDEX tls_report_counts_period ON tls_report_counts (period_start);
