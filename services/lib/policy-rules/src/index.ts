/**
 * @hermod/policy-rules: the content policy rules of the filtering gateway. Rules are validated
 * (zod, one schema for config, MailDomain and CLI), compiled once (PolicySet), and evaluated per
 * message (evaluatePolicy) on facts computed once (messageFacts) within a time budget. No I/O.
 */
export {
  type CompiledRule,
  type ConditionOutcome,
  compileRule,
  type PolicyContext,
} from './compile.js';
export { defaultRules } from './default-rules.js';
export { policyRulesEnv } from './env.js';
export {
  DEFAULT_STRIP_NOTICE,
  evaluatePolicy,
  type PolicyDecision,
  PolicyTimeoutError,
  type RuleTrace,
  type TerminalAction,
} from './evaluate.js';
export { type Judgement, type JudgeOptions, judgeMessage } from './judge.js';
export { type AttachmentFact, FACT_LIMITS, type MessageFacts, messageFacts } from './message-facts.js';
export { PolicySet, type RuleSources } from './policy-set.js';
export { openPolicySet, type PolicyRulesConfig, parseRulesText, readRulesFile } from './rules-file.js';
export {
  Action,
  AttachmentCondition,
  AttachmentKind,
  Condition,
  type DefaultRuleOptions,
  Matcher,
  PolicyRule,
  PolicyRuleError,
  type PolicyRuleInput,
  PolicyRules,
  parsePolicyRules,
  RULE_LIMITS,
} from './schema.js';
export {
  EXECUTABLE_EXTENSIONS,
  hasDoubleExtension,
  SCRIPT_EXTENSIONS,
  SNIFF_LIMITS,
  sniffKind,
} from './sniff.js';
export { stripAttachments } from './strip-attachments.js';
