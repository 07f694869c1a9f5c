import { compileRegex } from '@hermod/sieve/regex';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/**
 * The one schema of a policy rule: global rules (POLICY_RULES_FILE), per-domain rules (MailDomain
 * spec.policyRules -> live config) and `hermod rules` all parse with it. It is deliberately not
 * recursive (a rule has all / any / none lists of conditions) so that the MailDomain CRD, which
 * must be a structural schema without references, can carry it as is.
 */

/**
 * Every object is strict: a misspelt field is refused, naming it. Dropping it instead would widen
 * the rule (`attachment: { nmae: ... }` would hold for every attachment).
 */

/** Limits in one place (docs/filtering.md quotes them). */
export const RULE_LIMITS = {
  rules: 200,
  conditionsPerList: 32,
  patternsPerMatcher: 64,
  patternLength: 512,
  name: 64,
  rejectText: 200,
  headerValue: 900,
} as const;

const pattern = z.string().min(1).max(RULE_LIMITS.patternLength);
const patterns = z.array(pattern).min(1).max(RULE_LIMITS.patternsPerMatcher);

const compiles = (p: string) => {
  try {
    compileRegex(p, true);
    return true;
  } catch {
    return false;
  }
};
const regexes = z
  .array(pattern.refine(compiles, { message: 'not a valid POSIX extended regular expression' }))
  .min(1)
  .max(RULE_LIMITS.patternsPerMatcher);

const isAddress = (a: string) => ipaddr.IPv4.isValidFourPartDecimal(a) || ipaddr.IPv6.isValid(a);
const isNetwork = (n: string) => {
  const [address = '', bits, ...rest] = n.split('/');
  return rest.length === 0 && isAddress(address) && (bits === undefined || ipaddr.isValidCIDR(n));
};

/**
 * Strings compared case-insensitively; the matcher matches when any listed pattern does.
 * exact: the whole value; domain: an address whose domain is this one or a subdomain of it;
 * glob: `*` and `?` wildcards over the whole value; regex: POSIX extended syntax, searched
 * (anchor with ^ and $), run by a linear-time engine; contains: a substring.
 */
export const Matcher = z
  .strictObject({
    exact: patterns.optional().describe('Whole-value matches (case-insensitive).'),
    domain: patterns.optional().describe('Address domains (a subdomain matches too).'),
    glob: patterns.optional().describe('Wildcard patterns (* and ?) over the whole value.'),
    regex: regexes.optional().describe('POSIX extended regular expressions, searched in the value.'),
    contains: patterns.optional().describe('Substrings.'),
  })
  .refine((m) => Object.values(m).some((v) => v !== undefined), {
    message: 'a matcher needs at least one of exact, domain, glob, regex, contains',
  })
  .describe('How a string is matched; any listed pattern matching is enough.');
export type Matcher = z.infer<typeof Matcher>;

export const ATTACHMENT_KINDS = [
  'executable',
  'script',
  'office-macro',
  'office',
  'pdf',
  'archive',
  'zip',
  'rar',
  '7z',
  'tar',
  'gzip',
  'image',
  'text',
  'other',
] as const;
export const AttachmentKind = z.enum(ATTACHMENT_KINDS);
export type AttachmentKind = z.infer<typeof AttachmentKind>;

/** Matches when any attachment (or a member of an attached archive) satisfies every field given. */
export const AttachmentCondition = z
  .strictObject({
    name: Matcher.optional().describe('The file name (decoded).'),
    extension: z
      .array(z.string().regex(/^[a-z0-9]{1,16}$/))
      .min(1)
      .max(RULE_LIMITS.patternsPerMatcher)
      .optional()
      .describe('Last extensions of the name, lower case without the dot (exe, js).'),
    kind: z
      .array(AttachmentKind)
      .min(1)
      .optional()
      .describe('What the content is, found by sniffing its bytes (not by the name).'),
    doubleExtension: z
      .boolean()
      .optional()
      .describe('The name hides an executable or script behind another extension (invoice.pdf.exe).'),
    encrypted: z
      .boolean()
      .optional()
      .describe(
        'A password-protected (encrypted) archive member, or an archive whose headers are encrypted.',
      ),
    unlisted: z
      .boolean()
      .optional()
      .describe(
        'An archive (rar, 7z, zip) whose member names could not all be read: encrypted or undecodable headers, damage, or over the listing limits.',
      ),
    inArchive: z
      .boolean()
      .optional()
      .describe('Only members of archives (true) or only top-level parts (false).'),
  })
  .describe('A condition on attachments and archive members (archives inside archives too).');
export type AttachmentCondition = z.infer<typeof AttachmentCondition>;

export const AuthVerdict = z.enum([
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
  'policy',
]);

/** One condition; exactly one field is set. */
export const Condition = z
  .strictObject({
    envelopeFrom: Matcher.optional().describe('The MAIL FROM address (empty for bounces).'),
    envelopeTo: Matcher.optional().describe('Any RCPT TO address.'),
    headerFrom: Matcher.optional().describe('Any address in From.'),
    headerTo: Matcher.optional().describe('Any address in To.'),
    headerCc: Matcher.optional().describe('Any address in Cc.'),
    replyTo: Matcher.optional().describe('Any address in Reply-To.'),
    subject: Matcher.optional().describe('The Subject, RFC 2047 words decoded.'),
    body: Matcher.optional().describe('The text of the text/plain and text/html parts, decoded.'),
    attachment: AttachmentCondition.optional(),
    sizeOver: z.int().min(0).optional().describe('The message is larger than this many bytes.'),
    spf: z.array(AuthVerdict).min(1).optional().describe('The SPF result the mx computed is one of these.'),
    dkim: z.array(AuthVerdict).min(1).optional().describe('The DKIM result (pass if any signature passed).'),
    dmarc: z.array(AuthVerdict).min(1).optional().describe('The DMARC result.'),
    spamScoreAtLeast: z.number().optional().describe("Rspamd's score is at least this."),
    sourceNetwork: z
      .array(
        z
          .string()
          .min(2)
          .max(64)
          .refine(isNetwork, { message: 'expected an IPv4 or IPv6 address or CIDR network' }),
      )
      .min(1)
      .max(256)
      .optional()
      .describe('The client address is in one of these networks (CIDR, IPv4 or IPv6, or one address).'),
  })
  .refine((c) => Object.values(c).filter((v) => v !== undefined).length === 1, {
    message: 'a condition sets exactly one field',
  })
  .describe('One test on the message; exactly one field is set.');
export type Condition = z.infer<typeof Condition>;

const conditions = z.array(Condition).max(RULE_LIMITS.conditionsPerList);

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a header field name');
const address = z
  .string()
  .min(3)
  .max(320)
  .regex(/^[^\s@<>]+@[^\s@<>]+$/, 'expected an address');

/** What a matching rule does. Terminal: reject, quarantine, accept. The rest accumulate. */
export const Action = z
  .strictObject({
    reject: z
      .string()
      .min(1)
      .max(RULE_LIMITS.rejectText)
      .regex(/^[\x20-\x7e]+$/, 'printable ASCII only')
      .optional()
      .describe('Refuse with 550 5.7.1 and this text (terminal).'),
    quarantine: z
      .string()
      .min(1)
      .max(RULE_LIMITS.rejectText)
      .optional()
      .describe('Hold in quarantine with this reason (terminal).'),
    accept: z
      .literal(true)
      .optional()
      .describe('Stop evaluating rules; deliver with what earlier rules added (terminal).'),
    folder: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\r\n\0]+$/)
      .optional()
      .describe('Deliver to this mailbox (name or special use such as \\Junk); the last rule wins.'),
    addHeader: z
      .array(
        z
          .strictObject({
            name: headerName.describe('Field name.'),
            value: z
              .string()
              .max(RULE_LIMITS.headerValue)
              .regex(/^[\x20-\x7e\t]*$/, 'printable ASCII only')
              .describe('Field value (printable ASCII).'),
          })
          .describe('One header field.'),
      )
      .max(16)
      .optional()
      .describe('Header fields to add at the top of the message.'),
    bcc: z.array(address).min(1).max(8).optional().describe('Send a copy to these addresses too.'),
    redirect: z
      .array(address)
      .min(1)
      .max(8)
      .optional()
      .describe('Deliver to these addresses instead of the original recipients (terminal).'),
    stripAttachments: z
      .strictObject({
        notice: z
          .string()
          .max(1000)
          .optional()
          .describe('Text put in place of each removed attachment ({name} is its file name).'),
      })
      .optional()
      .describe(
        "Remove attachments (those the rule's attachment conditions matched, else all) and put a notice in place.",
      ),
  })
  .refine((a) => Object.values(a).some((v) => v !== undefined), {
    message: 'an action needs at least one field',
  })
  .refine((a) => [a.reject, a.quarantine, a.accept, a.redirect].filter((v) => v !== undefined).length <= 1, {
    message: 'at most one terminal action (reject, quarantine, accept, redirect)',
  })
  .describe('What the rule does.');
export type Action = z.infer<typeof Action>;

export const PolicyRule = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ - (at most 64)')
      .describe('Unique name, shown in logs, headers and `hermod rules test`.'),
    enabled: z.boolean().default(true).describe('false keeps the rule but does not evaluate it.'),
    direction: z
      .enum(['inbound', 'outbound', 'both'])
      .default('inbound')
      .describe('inbound: mail to us (mx); outbound: submitted mail (msa).'),
    all: conditions.optional().describe('Every one of these must hold.'),
    any: conditions.optional().describe('At least one of these must hold (when given).'),
    none: conditions.optional().describe('None of these may hold.'),
    action: Action,
  })
  .refine((r) => (r.all?.length ?? 0) + (r.any?.length ?? 0) + (r.none?.length ?? 0) > 0, {
    message: 'a rule needs at least one condition in all, any or none',
  })
  .describe('A policy rule: conditions and an action.');
export type PolicyRule = z.infer<typeof PolicyRule>;
export type PolicyRuleInput = z.input<typeof PolicyRule>;

export const PolicyRules = z
  .array(PolicyRule)
  .max(RULE_LIMITS.rules)
  .superRefine((rules, ctx) => {
    // Named at the second rule's name, as every other refusal names its field.
    const first = new Map<string, number>();
    rules.forEach((rule, index) => {
      const earlier = first.get(rule.name);
      if (earlier === undefined) first.set(rule.name, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `rule names must be unique ("${rule.name}" is also the name of rule ${earlier})`,
        });
    });
  });

/** Options of the built-in default rules (POLICY_DEFAULT_RULES, POLICY_BLOCK_ENCRYPTED_ARCHIVES). */
export interface DefaultRuleOptions {
  enabled: boolean;
  blockEncryptedArchives: boolean;
}

export class PolicyRuleError extends Error {
  readonly code = 'POLICY_RULE_INVALID';
}

/** Parses a list of rules, naming the bad field in the error. */
export function parsePolicyRules(value: unknown): PolicyRule[] {
  const result = PolicyRules.safeParse(value);
  if (result.success) return result.data;
  const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new PolicyRuleError(`invalid policy rules: ${detail}`);
}
