import { readFile } from 'node:fs/promises';
import { domainOfAddress, normalizeDomain } from '@hermod/address';
import { openDomainBucket, readDomainConfig, updateDomainConfig } from '@hermod/domain-config';
import {
  evaluatePolicy,
  type MessageFacts,
  messageFacts,
  type PolicyContext,
  type PolicyDecision,
  type PolicyRule,
  PolicySet,
  parseRulesText,
  readRulesFile,
} from '@hermod/policy-rules';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod rules: the content policy rules of the filtering gateway (docs/filtering.md)

Usage:
  hermod rules list [--domain D]... [--file RULES.yaml] [--no-defaults] [--json]
  hermod rules test <message-file> [--domain D]... [--from ADDR] [--to ADDR]... [--client-ip IP]
                    [--spf R] [--dkim R] [--dmarc R] [--spam-score N] [--outbound]
                    [--file RULES.yaml] [--no-defaults] [--keep-encrypted-archives]
                    [--no-domain-rules] [--json]
  hermod rules set <domain> <RULES.yaml>     (live configuration; a MailDomain's operator overwrites it)
  hermod rules clear <domain>

Rules run in this order: the global rules (--file, else POLICY_RULES_FILE), the rules of each
domain concerned (--domain, else the recipients' domains, or the sender's with --outbound), then
the default rules (unless --no-defaults or POLICY_DEFAULT_RULES=false). Domain rules are read
from the live configuration (NATS); --no-domain-rules leaves them out (no connection needed).

\`test\` shows every rule, whether it matched, and why (each condition's outcome). --from defaults
to the message's From, --to to its To and Cc. Exit code: 0 no rule matched; 3 rules matched and
the message is delivered (with their changes); 4 it would be quarantined; 5 it would be refused;
1 an error (unreadable file, invalid rules); 2 a usage mistake.`;

const EXIT = { none: 0, changed: 3, quarantine: 4, reject: 5 } as const;

function domainsOf(values: string[]): string[] {
  return values.map((v) => {
    const d = normalizeDomain(v);
    if (!d) throw new UsageError(`'${v}' is not a valid domain name`);
    return d;
  });
}

/** Every value of a repeated --flag (parseFlags keeps only the last). */
const repeated = (args: string[], flag: string) =>
  args.flatMap((a, i) =>
    a === `--${flag}` ? [args[i + 1] ?? ''] : a.startsWith(`--${flag}=`) ? [a.slice(flag.length + 3)] : [],
  );

async function domainRules(ctx: CliContext, domains: string[]): Promise<Map<string, PolicyRule[]>> {
  const out = new Map<string, PolicyRule[]>();
  if (domains.length === 0) return out;
  const kv = await openDomainBucket((await ctx.nats()).jetstream());
  for (const d of domains) out.set(d, (await readDomainConfig(kv, d))?.policyRules ?? []);
  return out;
}

function policySet(
  ctx: CliContext,
  global: PolicyRule[],
  domains: Map<string, PolicyRule[]>,
  switches: Set<string>,
): PolicySet {
  const envOff = (name: string) => /^(false|0|no|off)$/i.test(ctx.env[name] ?? '');
  return new PolicySet({
    global,
    defaults: {
      enabled: !switches.has('no-defaults') && !envOff('POLICY_DEFAULT_RULES'),
      blockEncryptedArchives:
        !switches.has('keep-encrypted-archives') && !envOff('POLICY_BLOCK_ENCRYPTED_ARCHIVES'),
    },
    domainRules: (d) => domains.get(d),
  });
}

function describeAction(rule: PolicyRule['action']): string {
  const parts: string[] = [];
  if (rule.reject) parts.push(`reject "${rule.reject}"`);
  if (rule.quarantine) parts.push(`quarantine "${rule.quarantine}"`);
  if (rule.accept) parts.push('accept');
  if (rule.redirect) parts.push(`redirect to ${rule.redirect.join(', ')}`);
  if (rule.folder) parts.push(`folder ${rule.folder}`);
  for (const h of rule.addHeader ?? []) parts.push(`header ${h.name}: ${h.value}`);
  if (rule.bcc) parts.push(`bcc ${rule.bcc.join(', ')}`);
  if (rule.stripAttachments) parts.push('strip attachments');
  return parts.join('; ');
}

async function list(args: string[], ctx: CliContext): Promise<number> {
  const { positional, values, switches } = parseFlags(args, {
    values: ['domain', 'file'],
    switches: ['json', 'no-defaults'],
  });
  if (positional.length > 0) throw new UsageError('list takes no positional arguments');
  const global = await readRulesFile(values.file ?? ctx.env.POLICY_RULES_FILE);
  const domains = await domainRules(ctx, domainsOf(repeated(args, 'domain')));
  const rules = policySet(ctx, global, domains, switches).rulesFor(domains.keys());
  if (switches.has('json')) {
    ctx.stdout.write(
      `${JSON.stringify(
        rules.map((r) => ({ name: r.name, origin: r.origin, direction: r.direction, action: r.action })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  for (const r of rules) {
    ctx.stdout.write(
      `${r.name.padEnd(28)} ${r.origin.padEnd(22)} ${r.direction.padEnd(8)} ${describeAction(r.action)}\n`,
    );
  }
  return 0;
}

function verdictLine(d: PolicyDecision): string {
  const t = d.terminal;
  if (t?.kind === 'reject') return `refused: 550 5.7.1 ${t.text} (policy rule ${t.rule})`;
  if (t?.kind === 'quarantine') return `quarantined: ${t.reason} (policy rule ${t.rule})`;
  const changes: string[] = [];
  if (t?.kind === 'redirect') changes.push(`redirected to ${t.addresses.join(', ')}`);
  if (d.folder) changes.push(`folder ${d.folder.name}`);
  for (const h of d.headers) changes.push(`header ${h.name}: ${h.value}`);
  if (d.bcc.length) changes.push(`copy to ${d.bcc.map((b) => b.address).join(', ')}`);
  if (d.strip) changes.push(`${d.strip.parts.length} attachment(s) removed`);
  return changes.length ? `delivered with: ${changes.join('; ')}` : 'delivered unchanged';
}

function exitCode(d: PolicyDecision): number {
  if (d.terminal?.kind === 'reject') return EXIT.reject;
  if (d.terminal?.kind === 'quarantine') return EXIT.quarantine;
  return d.matched.length > 0 ? EXIT.changed : EXIT.none;
}

async function test(args: string[], ctx: CliContext): Promise<number> {
  const { positional, values, switches } = parseFlags(args, {
    values: ['domain', 'from', 'to', 'client-ip', 'spf', 'dkim', 'dmarc', 'spam-score', 'file'],
    switches: ['json', 'no-defaults', 'keep-encrypted-archives', 'outbound', 'no-domain-rules'],
  });
  const [file, extra] = positional;
  if (!file || extra) throw new UsageError('test takes exactly one message file');
  const score = values['spam-score'];
  if (score !== undefined && !Number.isFinite(Number(score)))
    throw new UsageError('--spam-score must be a number');
  const raw = await readFile(file);
  const facts: MessageFacts = messageFacts(raw);
  const direction = switches.has('outbound') ? 'outbound' : 'inbound';
  const to = repeated(args, 'to');
  const recipients =
    to.length > 0 ? to.map((a) => a.toLowerCase()) : [...facts.addresses.to, ...facts.addresses.cc];
  const mailFrom = (values.from ?? facts.addresses.from[0] ?? '').toLowerCase();
  const named = domainsOf(repeated(args, 'domain'));
  const domains =
    named.length > 0
      ? named
      : direction === 'outbound'
        ? [domainOfAddress(mailFrom)].filter(Boolean)
        : [...new Set(recipients.map(domainOfAddress))];
  const global =
    values.file !== undefined
      ? parseRulesText(await readFile(values.file, 'utf8'), values.file)
      : await readRulesFile(ctx.env.POLICY_RULES_FILE);
  const set = policySet(
    ctx,
    global,
    await domainRules(ctx, switches.has('no-domain-rules') ? [] : domains),
    switches,
  );
  const auth = {
    ...(values.spf ? { spf: values.spf } : {}),
    ...(values.dkim ? { dkim: values.dkim } : {}),
    ...(values.dmarc ? { dmarc: values.dmarc } : {}),
  };
  const context: PolicyContext = {
    direction,
    mailFrom,
    recipients,
    clientAddress: values['client-ip'] ?? '127.0.0.1',
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
    ...(score !== undefined ? { spamScore: Number(score) } : {}),
  };
  const decision = evaluatePolicy(set.rulesFor(domains), facts, context, 10_000);
  if (switches.has('json')) {
    ctx.stdout.write(
      `${JSON.stringify({ verdict: verdictLine(decision), terminal: decision.terminal ?? null, matched: decision.matched, trace: decision.trace }, null, 2)}\n`,
    );
    return exitCode(decision);
  }
  ctx.stdout.write(
    `message: ${facts.size} bytes, subject "${facts.subject}", ${facts.attachments.length} attachment(s)${facts.attachments.length ? `: ${facts.attachments.map((a) => `${a.archive ? `${a.archive}/` : ''}${a.name || '(unnamed)'} [${a.kind}${a.encrypted ? ', encrypted' : ''}${a.unlisted ? ', not listed' : ''}]`).join(', ')}` : ''}\n`,
  );
  ctx.stdout.write(
    `envelope: from <${mailFrom}> to ${recipients.map((r) => `<${r}>`).join(' ') || '(none)'}; domains ${domains.join(', ') || '(none)'}${switches.has('no-domain-rules') ? ' (their rules not read)' : ''}\n\n`,
  );
  for (const t of decision.trace) {
    const state = t.skipped ? `skipped (${t.skipped})` : t.matched ? 'MATCHED' : 'no match';
    ctx.stdout.write(`${t.matched ? '*' : ' '} ${t.rule} [${t.origin}]: ${state}\n`);
    for (const c of t.conditions)
      ctx.stdout.write(`    ${c.list}: ${c.holds ? 'holds' : 'fails'}: ${c.detail}\n`);
  }
  ctx.stdout.write(`\n${verdictLine(decision)}\n`);
  return exitCode(decision);
}

async function set(
  args: string[],
  ctx: CliContext,
  rules: (() => Promise<PolicyRule[]>) | undefined,
): Promise<number> {
  const { positional } = parseFlags(args, {});
  const [name, file, extra] = positional;
  if (!name || (rules && !file) || (!rules && file) || extra)
    throw new UsageError(rules ? 'set takes a domain and a rules file' : 'clear takes a domain');
  const [domain] = domainsOf([name]);
  const next = rules ? await rules() : [];
  const kv = await openDomainBucket((await ctx.nats()).jetstream());
  const saved = await updateDomainConfig(kv, domain!, (config) => ({ ...config, policyRules: next }));
  if (!saved) {
    ctx.stderr.write(`domain ${domain} does not exist (hermod domain add ${domain})\n`);
    return 1;
  }
  ctx.stdout.write(`${domain}: ${next.length} policy rule(s)\n`);
  return 0;
}

export const rulesCommand: CliCommand = {
  name: 'rules',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list':
        return list(rest, ctx);
      case 'test':
        return test(rest, ctx);
      case 'set':
        return set(rest, ctx, async () =>
          parseRulesText(await readFile(rest[1] ?? '', 'utf8'), rest[1] ?? ''),
        );
      case 'clear':
        return set(rest, ctx, undefined);
      default:
        throw subcommandError(sub, ['list', 'test', 'set', 'clear']);
    }
  },
};
