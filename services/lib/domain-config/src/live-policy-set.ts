import { openPolicySet, type PolicyRulesConfig, type PolicySet } from '@hermod/policy-rules';
import type { DomainConfigStore } from './store.js';

/**
 * The policy rules of a service (msa, mx), compiled once: the global rules and the defaults now, a
 * domain's rules from its live record when first needed and again after that record changes. A
 * bad rules file fails the start (it never half-applies).
 */
export async function openLivePolicySet(
  config: PolicyRulesConfig,
  domains: DomainConfigStore,
  shutdown: { register(name: string, hook: () => void): void },
): Promise<PolicySet> {
  const policy = await openPolicySet(config, (domain) => domains.get(domain)?.policyRules);
  const stopForgetting = domains.onChange((domain) => policy.forget(domain));
  shutdown.register('policy-rules', () => stopForgetting());
  return policy;
}
