import ipaddr from 'ipaddr.js';
import { type CompiledMatcher, compileMatcher } from './matcher.js';
import type { AttachmentFact, FactName, MessageFacts } from './message-facts.js';
import {
  type Action,
  type AttachmentCondition,
  type Condition,
  type PolicyRule,
  PolicyRuleError,
} from './schema.js';
import { ARCHIVE_KINDS } from './sniff.js';

/** What a message is judged with, besides its content. */
export interface PolicyContext {
  direction: 'inbound' | 'outbound';
  /** MAIL FROM ('' for a bounce). */
  mailFrom: string;
  recipients: readonly string[];
  /** The SMTP client's address. */
  clientAddress: string;
  /** Verdicts the mx computed (absent: not checked). */
  auth?: { spf?: string; dkim?: string; dmarc?: string };
  /** Rspamd's score (absent: not scored). */
  spamScore?: number;
}

/** A condition's outcome: whether it holds, in words, and the attachments that made it hold. */
export interface ConditionOutcome {
  holds: boolean;
  detail: string;
  parts?: number[];
}

type Test = (facts: MessageFacts, ctx: PolicyContext, deadline: number) => ConditionOutcome;

export interface CompiledRule {
  name: string;
  /** Where the rule comes from: 'global', 'domain:<name>', 'default'. */
  origin: string;
  direction: PolicyRule['direction'];
  all: Test[];
  any: Test[];
  none: Test[];
  action: Action;
  /** Whether a condition looks at attachments (stripAttachments then strips only those). */
  attachmentConditions: boolean;
  /** The message facts its conditions and actions read. */
  facts: ReadonlySet<FactName>;
}

/** The message fact a condition reads; the others read the envelope, the verdicts or the size. */
function factOf(c: Condition): FactName | undefined {
  if (c.headerFrom || c.headerTo || c.headerCc || c.replyTo) return 'addresses';
  if (c.subject) return 'subject';
  if (c.body) return 'bodyText';
  if (c.attachment) return 'attachments';
  return undefined;
}

const yes = (detail: string, parts?: number[]): ConditionOutcome => ({
  holds: true,
  detail,
  ...(parts ? { parts } : {}),
});
const no = (detail: string): ConditionOutcome => ({ holds: false, detail });

function addressTest(
  label: string,
  matcher: CompiledMatcher,
  values: (f: MessageFacts, c: PolicyContext) => readonly string[],
): Test {
  return (facts, ctx, deadline) => {
    const list = values(facts, ctx);
    for (const v of list) {
      const hit = matcher(v, deadline);
      if (hit) return yes(`${label} ${v} (${hit})`);
    }
    return no(list.length === 0 ? `${label}: none` : `${label} ${list.slice(0, 3).join(', ')}: no match`);
  };
}

function attachmentTest(cond: AttachmentCondition, where: string): Test {
  const name = cond.name ? compileMatcher(cond.name, `${where}.name`) : undefined;
  const extensions = cond.extension ? new Set(cond.extension) : undefined;
  const kinds = cond.kind ? new Set(cond.kind) : undefined;
  const fits = (a: AttachmentFact, deadline: number): string | undefined => {
    const why: string[] = [];
    if (cond.inArchive !== undefined && a.inArchive !== cond.inArchive) return undefined;
    if (extensions) {
      if (!extensions.has(a.extension)) return undefined;
      why.push(`extension .${a.extension}`);
    }
    if (kinds) {
      const archive = kinds.has('archive') && ARCHIVE_KINDS.has(a.kind);
      if (!kinds.has(a.kind) && !archive) return undefined;
      why.push(`content ${a.kind}`);
    }
    if (cond.doubleExtension !== undefined) {
      if (a.doubleExtension !== cond.doubleExtension) return undefined;
      if (a.doubleExtension) why.push('double extension');
    }
    if (cond.encrypted !== undefined) {
      if (a.encrypted !== cond.encrypted) return undefined;
      if (a.encrypted) why.push('encrypted');
    }
    if (cond.unlisted !== undefined) {
      if (a.unlisted !== cond.unlisted) return undefined;
      if (a.unlisted) why.push('members not listed');
    }
    if (name) {
      const hit = name(a.name, deadline);
      if (!hit) return undefined;
      why.push(hit);
    }
    return why.join(', ') || 'present';
  };
  return (facts, _ctx, deadline) => {
    const parts = new Set<number>();
    const reasons: string[] = [];
    for (const a of facts.attachments) {
      const why = fits(a, deadline);
      if (!why) continue;
      parts.add(a.part);
      if (reasons.length < 3)
        reasons.push(`attachment "${a.name}"${a.archive ? ` in ${a.archive}` : ''}: ${why}`);
    }
    if (parts.size === 0) return no(`attachments (${facts.attachments.length}): none fits`);
    return yes(reasons.join('; '), [...parts]);
  };
}

function authTest(which: 'spf' | 'dkim' | 'dmarc', wanted: readonly string[]): Test {
  const set = new Set(wanted);
  return (_facts, ctx) => {
    const got = ctx.auth?.[which];
    if (got === undefined) return no(`${which}: not checked`);
    return set.has(got) ? yes(`${which}=${got}`) : no(`${which}=${got}`);
  };
}

function networkTest(networks: readonly string[], where: string): Test {
  const parsed = networks.map((n) => {
    try {
      return n.includes('/')
        ? ipaddr.parseCIDR(n)
        : ([ipaddr.parse(n), ipaddr.parse(n).kind() === 'ipv4' ? 32 : 128] as const);
    } catch {
      throw new PolicyRuleError(`${where}: ${JSON.stringify(n)} is not an address or CIDR network`);
    }
  });
  return (_facts, ctx) => {
    let address: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      address = ipaddr.process(ctx.clientAddress);
    } catch {
      return no(`client ${ctx.clientAddress}: not an address`);
    }
    for (const [i, [range, bits]] of parsed.entries()) {
      const candidate =
        address.kind() === range.kind()
          ? address
          : address.kind() === 'ipv4' && range.kind() === 'ipv6'
            ? (address as ipaddr.IPv4).toIPv4MappedAddress()
            : undefined;
      if (candidate?.match(range, bits)) return yes(`client ${ctx.clientAddress} in ${networks[i]}`);
    }
    return no(`client ${ctx.clientAddress}: in none of ${networks.length} networks`);
  };
}

function compileCondition(c: Condition, where: string): { test: Test; attachments: boolean } {
  const m = (matcher: NonNullable<Condition['subject']>, field: string) =>
    compileMatcher(matcher, `${where}.${field}`);
  if (c.envelopeFrom)
    return {
      test: addressTest('MAIL FROM', m(c.envelopeFrom, 'envelopeFrom'), (_f, x) => [x.mailFrom]),
      attachments: false,
    };
  if (c.envelopeTo)
    return {
      test: addressTest('RCPT TO', m(c.envelopeTo, 'envelopeTo'), (_f, x) => x.recipients),
      attachments: false,
    };
  if (c.headerFrom)
    return {
      test: addressTest('From', m(c.headerFrom, 'headerFrom'), (f) => f.addresses.from),
      attachments: false,
    };
  if (c.headerTo)
    return { test: addressTest('To', m(c.headerTo, 'headerTo'), (f) => f.addresses.to), attachments: false };
  if (c.headerCc)
    return { test: addressTest('Cc', m(c.headerCc, 'headerCc'), (f) => f.addresses.cc), attachments: false };
  if (c.replyTo)
    return {
      test: addressTest('Reply-To', m(c.replyTo, 'replyTo'), (f) => f.addresses.replyTo),
      attachments: false,
    };
  if (c.subject) {
    const matcher = m(c.subject, 'subject');
    return {
      test: (f, _x, deadline) => {
        const hit = matcher(f.subject, deadline);
        return hit ? yes(`subject (${hit})`) : no('subject: no match');
      },
      attachments: false,
    };
  }
  if (c.body) {
    const matcher = m(c.body, 'body');
    return {
      test: (f, _x, deadline) => {
        const hit = matcher(f.bodyText, deadline);
        return hit ? yes(`body (${hit})`) : no('body: no match');
      },
      attachments: false,
    };
  }
  if (c.attachment) return { test: attachmentTest(c.attachment, `${where}.attachment`), attachments: true };
  if (c.sizeOver !== undefined) {
    const limit = c.sizeOver;
    return {
      test: (f) => (f.size > limit ? yes(`size ${f.size} > ${limit}`) : no(`size ${f.size} <= ${limit}`)),
      attachments: false,
    };
  }
  if (c.spf) return { test: authTest('spf', c.spf), attachments: false };
  if (c.dkim) return { test: authTest('dkim', c.dkim), attachments: false };
  if (c.dmarc) return { test: authTest('dmarc', c.dmarc), attachments: false };
  if (c.spamScoreAtLeast !== undefined) {
    const min = c.spamScoreAtLeast;
    return {
      test: (_f, x) =>
        x.spamScore === undefined
          ? no('spam score: not scored')
          : x.spamScore >= min
            ? yes(`spam score ${x.spamScore} >= ${min}`)
            : no(`spam score ${x.spamScore} < ${min}`),
      attachments: false,
    };
  }
  if (c.sourceNetwork)
    return { test: networkTest(c.sourceNetwork, `${where}.sourceNetwork`), attachments: false };
  throw new PolicyRuleError(`${where}: empty condition`);
}

/** Compiles one validated rule; a bad regex or network is a PolicyRuleError naming the rule. */
export function compileRule(rule: PolicyRule, origin: string): CompiledRule {
  let attachmentConditions = false;
  const facts = new Set<FactName>(rule.action.stripAttachments ? ['attachments'] : []);
  const list = (conditions: Condition[] | undefined, key: string) =>
    (conditions ?? []).map((c, i) => {
      const compiled = compileCondition(c, `${origin} rule ${rule.name} ${key}[${i}]`);
      if (compiled.attachments && key !== 'none') attachmentConditions = true;
      const fact = factOf(c);
      if (fact) facts.add(fact);
      return compiled.test;
    });
  const all = list(rule.all, 'all');
  const any = list(rule.any, 'any');
  const none = list(rule.none, 'none');
  return {
    name: rule.name,
    origin,
    direction: rule.direction,
    all,
    any,
    none,
    action: rule.action,
    attachmentConditions,
    facts,
  };
}
