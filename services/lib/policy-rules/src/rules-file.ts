import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { PolicySet } from './policy-set.js';
import { type PolicyRule, PolicyRuleError, parsePolicyRules } from './schema.js';

/**
 * The global rules: a YAML (or JSON) file holding a list of rules, or an object with a `rules`
 * list (a ConfigMap key mounted as a file). An empty path means no global rules.
 */
export async function readRulesFile(path: string | undefined): Promise<PolicyRule[]> {
  if (!path) return [];
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicyRuleError(`cannot read the policy rules file ${path}: ${(error as Error).message}`);
  }
  return parseRulesText(text, path);
}

/** Parses the text of a rules file (YAML or JSON), naming the file in errors. */
export function parseRulesText(text: string, where: string): PolicyRule[] {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new PolicyRuleError(`${where}: not YAML or JSON: ${(error as Error).message}`);
  }
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : (value as { rules?: unknown }).rules;
  try {
    return parsePolicyRules(list ?? []);
  } catch (error) {
    throw new PolicyRuleError(`${where}: ${(error as Error).message}`);
  }
}

/** The policy rules' settings of a service (policyRulesEnv). */
export interface PolicyRulesConfig {
  POLICY_RULES_FILE?: string | undefined;
  POLICY_DEFAULT_RULES: boolean;
  POLICY_BLOCK_ENCRYPTED_ARCHIVES: boolean;
}

/**
 * The rules of a service, compiled: the global file read (a bad file fails the start, it never
 * half-applies), the defaults as configured, a domain's rules from its live record.
 */
export async function openPolicySet(
  config: PolicyRulesConfig,
  domainRules: (domain: string) => readonly PolicyRule[] | undefined,
): Promise<PolicySet> {
  return new PolicySet({
    global: await readRulesFile(config.POLICY_RULES_FILE),
    defaults: {
      enabled: config.POLICY_DEFAULT_RULES,
      blockEncryptedArchives: config.POLICY_BLOCK_ENCRYPTED_ARCHIVES,
    },
    domainRules,
  });
}
