import type { DomainConfig } from './schema.js';

/** An MTA-STS policy (RFC 8461 section 3.2) one of our domains publishes. */
export interface OwnMtaStsPolicy {
  mode: 'testing' | 'enforce';
  /** MX patterns, each a host name or `*.`-prefixed wildcard. */
  mx: string[];
  maxAgeSeconds: number;
}

/** RFC 8461 section 3.2: max_age is at most 31557600 seconds (about a year). */
export const MTA_STS_MAX_AGE_LIMIT = 31_557_600;

/**
 * The policy a domain publishes, from its live config: the mode of `tls.mtaSts` and the MX hosts
 * the domain publishes (`tls.mtaStsMx`, written by the operator from `dns.mxHosts`), else our
 * default MX names. No policy when the mode is `none` or there is no MX to name.
 */
export function mtaStsPolicyOf(
  config: DomainConfig,
  defaults: { mxHosts: readonly string[]; maxAgeSeconds: number },
): OwnMtaStsPolicy | undefined {
  const mode = config.tls.mtaSts;
  if (mode === 'none') return undefined;
  const mx = (config.tls.mtaStsMx ?? defaults.mxHosts).map((h) => h.toLowerCase().replace(/\.$/, ''));
  if (mx.length === 0) return undefined;
  return { mode, mx, maxAgeSeconds: Math.min(defaults.maxAgeSeconds, MTA_STS_MAX_AGE_LIMIT) };
}

/** The policy file body served at https://mta-sts.<domain>/.well-known/mta-sts.txt (CRLF lines). */
export function renderMtaStsPolicy(policy: OwnMtaStsPolicy): string {
  const lines = ['version: STSv1', `mode: ${policy.mode}`, ...policy.mx.map((m) => `mx: ${m}`)];
  lines.push(`max_age: ${policy.maxAgeSeconds}`);
  return lines.map((l) => `${l}\r\n`).join('');
}
