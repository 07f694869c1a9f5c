import { type CompiledRule, compileRule } from './compile.js';
import { defaultRules } from './default-rules.js';
import type { DefaultRuleOptions, PolicyRule } from './schema.js';

/** Where the rules of one evaluation come from. */
export interface RuleSources {
  global: readonly PolicyRule[];
  defaults: DefaultRuleOptions;
  /** The rules of a domain (MailDomain spec.policyRules via the live config); undefined: none. */
  domainRules(domain: string): readonly PolicyRule[] | undefined;
}

/**
 * Compiled rules, each list compiled once: global rules and the defaults at construction, a
 * domain's rules the first time it is needed and again only when its record changes (forget).
 * Order of evaluation: global, then the domains' rules (each domain of the message once, in the
 * order first named), then the defaults.
 */
export class PolicySet {
  private readonly global: CompiledRule[];
  private readonly defaults: CompiledRule[];
  private readonly domains = new Map<string, { source: readonly PolicyRule[]; compiled: CompiledRule[] }>();

  constructor(private readonly sources: RuleSources) {
    this.global = sources.global.filter((r) => r.enabled).map((r) => compileRule(r, 'global'));
    this.defaults = defaultRules(sources.defaults).map((r) => compileRule(r, 'default'));
  }

  /** Drops a domain's compiled rules (its live config changed). */
  forget(domain: string): void {
    this.domains.delete(domain.toLowerCase());
  }

  /** The rules for a message whose relevant domains are these (recipients' inbound, sender's outbound). */
  rulesFor(domains: Iterable<string>): CompiledRule[] {
    const seen = new Set<string>();
    const out = [...this.global];
    for (const raw of domains) {
      const domain = raw.toLowerCase();
      if (seen.has(domain)) continue;
      seen.add(domain);
      out.push(...this.domainRules(domain));
    }
    out.push(...this.defaults);
    return out;
  }

  private domainRules(domain: string): CompiledRule[] {
    const source = this.sources.domainRules(domain);
    if (!source || source.length === 0) return [];
    const cached = this.domains.get(domain);
    if (cached && cached.source === source) return cached.compiled;
    const compiled = source.filter((r) => r.enabled).map((r) => compileRule(r, `domain:${domain}`));
    this.domains.set(domain, { source, compiled });
    return compiled;
  }
}
