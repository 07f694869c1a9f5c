import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
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
