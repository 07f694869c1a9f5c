import { type DomainConfig, parseDomainConfig } from '@hermod/domain-config';
import type { MailDomain } from '../api/v1alpha1/maildomain.js';
import { parseDuration, parseQuantity } from './units.js';

export interface ActiveDkim {
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  keyRef: string;
}

export const sourceOf = (md: Pick<MailDomain, 'metadata'>): string =>
  `operator:${md.metadata.namespace ?? 'default'}/${md.metadata.name}`;

/** The live config record a MailDomain stands for (pure: same input, same output, no timestamps). */
export function desiredDomainConfig(
  md: MailDomain,
  dkim: ActiveDkim | undefined,
): Omit<DomainConfig, 'updatedAt'> {
  const { spec } = md;
  const hosts =
    spec.exchanger === 'backup'
      ? (spec.backup?.primary ?? [])
      : spec.exchanger === 'local'
        ? []
        : (spec.remote?.hosts ?? []);
  const limits: DomainConfig['limits'] = {};
  if (spec.limits.maxMessageSize) limits.maxMessageBytes = parseQuantity(spec.limits.maxMessageSize);
  if (spec.limits.defaultQuota) limits.defaultQuotaBytes = parseQuantity(spec.limits.defaultQuota);
  if (spec.limits.outboundPerMinute) limits.outboundPerMinute = spec.limits.outboundPerMinute;
  return {
    domain: spec.domain,
    exchanger: spec.exchanger,
    remoteHosts: hosts.map((h) => ({
      host: h.host,
      port: h.port,
      preference: h.preference,
      requireTls: h.requireTls,
    })),
    aliases: spec.aliases.map((a) => ({ source: a.source.toLowerCase(), destinations: [...a.destinations] })),
    ...(spec.catchAll ? { catchAll: spec.catchAll } : {}),
    subaddressSeparator: spec.subaddressSeparator,
    ...(spec.exchanger === 'backup' || spec.backup
      ? {
          backup: {
            maxHoldSeconds: Math.round(parseDuration(spec.backup?.maxHoldDuration ?? '120h') / 1000),
          },
        }
      : {}),
    ...(dkim ? { dkim: { selector: dkim.selector, algorithm: dkim.algorithm, keyRef: dkim.keyRef } } : {}),
    limits,
    tls: {
      requireOutbound: spec.tls.requireOutbound,
      mtaSts: spec.tls.mtaSts,
      ...(spec.tls.mtaSts !== 'none' && spec.dns.mxHosts ? { mtaStsMx: [...spec.dns.mxHosts] } : {}),
    },
    ...(spec.sieve
      ? {
          sieve: {
            ...(spec.sieve.before !== undefined ? { before: spec.sieve.before } : {}),
            ...(spec.sieve.after !== undefined ? { after: spec.sieve.after } : {}),
            library: spec.sieve.library.map((l) => ({ name: l.name, source: l.script })),
          },
        }
      : {}),
    ...(spec.clients ? { clients: spec.clients } : {}),
    policyRules: spec.policyRules,
    ...(spec.quarantine ? { quarantine: spec.quarantine } : {}),
    source: sourceOf(md),
    generation: md.metadata.generation ?? 0,
  };
}

/** Stable comparison of two records, ignoring when they were written. */
export function sameConfig(a: Omit<DomainConfig, 'updatedAt'>, b: DomainConfig | undefined): boolean {
  if (!b) return false;
  // Through the parser, so defaults the bucket record carries compare equal to their absence here.
  const { updatedAt: _a, ...left } = parseDomainConfig({ ...a, updatedAt: '' });
  const { updatedAt: _b, ...right } = b;
  return canonical(left) === canonical(right);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)),
        )
      : v,
  );
}
