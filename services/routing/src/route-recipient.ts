import { groupAcceptsSender, type MailGroup } from '@hermod/accounts';
import { AddressError, type ParsedAddress, parseAddress } from '@hermod/address';
import type { DomainConfigValue } from '@hermod/domain-config';
import type { EffectiveExchanger } from './exchanger.js';
import { srsReverse } from './srs.js';

export interface RelayHost {
  host: string;
  port: number;
  preference: number;
  requireTls: boolean;
}

/** One place a recipient's copy goes. */
export type RouteTarget =
  | { kind: 'local'; address: string; accountId: number; mailbox: string; tag?: string }
  | {
      kind: 'remote';
      address: string;
      domain: string;
      /** Hosts from the domain config (remote mode); the domain's MX otherwise. */
      relayHosts: RelayHost[];
      /** Forwarded by an alias or catch-all: the envelope sender is rewritten with SRS. */
      forwarded: boolean;
    }
  | {
      kind: 'backup';
      address: string;
      domain: string;
      /** The primary's hosts when configured; otherwise the domain's MX without our own names. */
      relayHosts: RelayHost[];
      maxHoldSeconds: number;
    };

/** Where one recipient goes. Rejections carry the SMTP reply to give at RCPT time. */
export type RouteDecision =
  | {
      kind: 'deliver';
      canonical: string;
      targets: RouteTarget[];
      rule: string;
      exchanger: string;
      effectiveExchanger: string;
      /** A group's sender policy was applied: another sender may get another answer. */
      senderDependent?: boolean;
    }
  | {
      kind: 'reject';
      canonical: string;
      code: number;
      enhanced: string;
      message: string;
      rule: string;
      exchanger: string;
      effectiveExchanger: string;
    };

export type Channel = 'submission' | 'inbound';

/** What routing needs to know; injected so decisions are testable without a database. */
export interface RoutingLookups {
  domain(name: string): DomainConfigValue | undefined;
  /** The account that owns address (primary or alias), if any, with its forwarding. */
  accountFor(
    address: string,
  ): Promise<{ id: number; address: string; forwardTo?: string[]; forwardKeepCopy?: boolean } | undefined>;
  /** The distribution list (MailGroup) at address, if any. */
  groupFor?(address: string): Promise<MailGroup | undefined>;
  /** For `auto` domains: the mode decided from live MX records, if one was decided yet. */
  autoExchanger?(domain: string): { effective: EffectiveExchanger; reason: string } | undefined;
  /**
   * Backup domains without a recipient list: ask the primary about the recipient (RCPT time only).
   * 'rejected' refuses it with 550 5.1.1; 'accepted' and 'unknown' (primary down) accept and hold.
   */
  verifyBackupRecipient?(
    domain: string,
    address: string,
    relayHosts: RelayHost[],
  ): Promise<'accepted' | 'rejected' | 'unknown'>;
  /** Secret for SRS hashes; without it forwarded bounces cannot be verified (SRS addresses refused). */
  srsSecret?: string;
  maxAliasDepth?: number;
}

type Reject = Extract<RouteDecision, { kind: 'reject' }>;

const reject = (
  canonical: string,
  code: number,
  enhanced: string,
  message: string,
  rule: string,
  exchanger = '',
  effectiveExchanger = '',
): Reject => ({ kind: 'reject', canonical, code, enhanced, message, rule, exchanger, effectiveExchanger });

function syntaxReject(address: string, error: unknown): Reject {
  const relayHack =
    error instanceof AddressError &&
    (['routing-characters', 'source-route', 'address-literal'].includes(error.code) ||
      (error.code === 'bad-local-part' && /["\\@]/.test(address.slice(0, address.lastIndexOf('@')))));
  return relayHack
    ? reject(address, 550, '5.7.1', 'Relaying denied', 'syntax')
    : reject(address, 501, '5.1.3', `Bad recipient address syntax: ${(error as Error).message}`, 'syntax');
}

const hosts = (config: DomainConfigValue): RelayHost[] => config.remoteHosts.map((h) => ({ ...h }));

class AliasLoopError extends Error {
  constructor(readonly address: string) {
    super(`alias loop at ${address}`);
  }
}

/**
 * Decides where a recipient goes from the live domain config: the exchanger mode (auto resolved
 * from MX records), then for local domains aliases, accounts, sub-addresses and the catch-all.
 * Mail for a domain we do not serve goes out (submission) or is refused (inbound: no open relay).
 */
export async function routeRecipient(
  address: string,
  channel: Channel,
  lookups: RoutingLookups,
  /** The envelope sender ('' null sender) groups check; undefined: not known (route explain). */
  sender?: string,
): Promise<RouteDecision> {
  let parsed: ParsedAddress;
  try {
    parsed = parseAddress(address);
  } catch (error) {
    return syntaxReject(address, error);
  }
  const { canonical, domain } = parsed;
  const config = lookups.domain(domain);
  if (!config) {
    if (channel === 'inbound') return reject(canonical, 550, '5.7.1', 'Relaying denied', 'not-served');
    return {
      kind: 'deliver',
      canonical,
      targets: [{ kind: 'remote', address: canonical, domain, relayHosts: [], forwarded: false }],
      rule: 'not-served',
      exchanger: '',
      effectiveExchanger: 'remote',
    };
  }
  const exchanger = config.exchanger;
  let effective: EffectiveExchanger;
  if (exchanger === 'auto') {
    const decided = lookups.autoExchanger?.(domain);
    if (!decided)
      return reject(
        canonical,
        451,
        '4.4.3',
        'Routing for this domain is not decided yet, try again later',
        'auto-undecided',
        exchanger,
        '',
      );
    effective = decided.effective;
  } else effective = exchanger;
  const deliver = (targets: RouteTarget[], rule: string): Extract<RouteDecision, { kind: 'deliver' }> => ({
    kind: 'deliver',
    canonical,
    targets,
    rule,
    exchanger,
    effectiveExchanger: effective,
  });

  if (effective === 'remote') {
    if (channel === 'inbound')
      return reject(canonical, 550, '5.7.1', 'Relaying denied', 'remote-domain', exchanger, effective);
    return deliver(
      [{ kind: 'remote', address: canonical, domain, relayHosts: hosts(config), forwarded: false }],
      'remote-domain',
    );
  }
  if (effective === 'backup') {
    // Our own users' mail for a domain we only back up goes to its primary, like anyone else's.
    if (channel === 'submission')
      return deliver(
        [{ kind: 'remote', address: canonical, domain, relayHosts: hosts(config), forwarded: false }],
        'backup-domain',
      );
    const listed = config.backup?.recipients;
    if (
      listed &&
      !listed.some((r) => r.toLowerCase() === canonical || r.toLowerCase() === parsed.localPart.toLowerCase())
    )
      return reject(canonical, 550, '5.1.1', 'No such user here', 'backup-recipients', exchanger, effective);
    if (!listed && lookups.verifyBackupRecipient) {
      const verdict = await lookups.verifyBackupRecipient(domain, canonical, hosts(config));
      if (verdict === 'rejected')
        return reject(
          canonical,
          550,
          '5.1.1',
          'No such user here (refused by the primary exchanger)',
          'backup-callout',
          exchanger,
          effective,
        );
    }
    return deliver(
      [
        {
          kind: 'backup',
          address: canonical,
          domain,
          relayHosts: hosts(config),
          maxHoldSeconds: config.backup?.maxHoldSeconds ?? 5 * 24 * 3600,
        },
      ],
      'backup-domain',
    );
  }

  // Local: a bounce coming back to an SRS address we issued goes to the original sender.
  if (/^srs0[=+-]/i.test(parsed.localPart)) {
    const original = lookups.srsSecret ? srsReverse(parsed.localPart, lookups.srsSecret) : undefined;
    if (!original?.ok)
      return reject(
        canonical,
        550,
        '5.1.1',
        'No such user here (invalid SRS address)',
        'srs',
        exchanger,
        effective,
      );
    const target = parseAddress(original.address);
    return deliver(
      [
        {
          kind: 'remote',
          address: target.canonical,
          domain: target.domain,
          relayHosts: [],
          forwarded: false,
        },
      ],
      'srs-reverse',
    );
  }
  try {
    const walk: Walk = { lookups, sender, senderDependent: false };
    const resolved = await resolveLocal(parsed, config, walk, new Set(), 0);
    if ('code' in resolved) return { ...resolved, exchanger, effectiveExchanger: effective };
    const decision = deliver(resolved.targets, resolved.rule);
    return walk.senderDependent ? { ...decision, senderDependent: true } : decision;
  } catch (error) {
    if (error instanceof AliasLoopError)
      return reject(
        canonical,
        554,
        '5.4.6',
        `Alias loop detected at ${error.address}`,
        'alias-loop',
        exchanger,
        effective,
      );
    throw error;
  }
}

type Resolved = { targets: RouteTarget[]; rule: string } | Reject;

/** What one resolution carries along: the lookups, the sender, and whether a group looked at it. */
interface Walk {
  lookups: RoutingLookups;
  sender: string | undefined;
  senderDependent: boolean;
}

const senderRule: Record<MailGroup['senderPolicy'], string> = {
  anyone: 'anyone',
  members: 'only its members',
  listed: 'only the senders it lists',
  domain: 'only senders of its own domain',
};

/** A group: its members if the sender may send to it, else 550 5.7.2 naming the rule. */
async function expandGroup(
  group: MailGroup,
  walk: Walk,
  visited: Set<string>,
  depth: number,
): Promise<Resolved> {
  if (group.senderPolicy !== 'anyone') walk.senderDependent = true;
  if (walk.sender !== undefined && !groupAcceptsSender(group, walk.sender))
    return reject(
      group.address,
      550,
      '5.7.2',
      `${walk.sender || 'The null sender'} may not send to the group ${group.address} (${senderRule[group.senderPolicy]} may)`,
      'group-sender',
    );
  return expand(group.members, 'group', walk, visited, depth);
}

/** An account: its mailbox, and copies to where it forwards (without its own copy if so declared). */
async function accountTargets(
  account: NonNullable<Awaited<ReturnType<RoutingLookups['accountFor']>>>,
  rule: string,
  tag: string | undefined,
  walk: Walk,
  visited: Set<string>,
  depth: number,
): Promise<Resolved> {
  const own: RouteTarget = {
    kind: 'local',
    address: account.address,
    accountId: account.id,
    mailbox: 'INBOX',
    ...(tag !== undefined ? { tag } : {}),
  };
  if (!account.forwardTo?.length) return { targets: [own], rule };
  const forwarded = await expand(
    account.forwardTo,
    'forward',
    walk,
    new Set([...visited, account.address]),
    depth,
  );
  const targets = 'code' in forwarded ? [] : forwarded.targets;
  if (account.forwardKeepCopy !== false || targets.length === 0) targets.unshift(own);
  return { targets, rule: targets.length > 1 || targets[0] !== own ? `${rule}+forward` : rule };
}

/** A local-domain address: domain alias, account, sub-address (base then alias or account), catch-all. */
async function resolveLocal(
  parsed: ParsedAddress,
  config: DomainConfigValue,
  walk: Walk,
  visited: Set<string>,
  depth: number,
): Promise<Resolved> {
  const { lookups } = walk;
  const { canonical } = parsed;
  if (visited.has(canonical) || depth > (lookups.maxAliasDepth ?? 10)) throw new AliasLoopError(canonical);
  visited.add(canonical);
  const local = parsed.localPart.toLowerCase();

  const alias = config.aliases.find((a) => a.source.toLowerCase() === local);
  if (alias) return expand(alias.destinations, 'domain-alias', walk, visited, depth);
  const [account, group] = await Promise.all([lookups.accountFor(canonical), lookups.groupFor?.(canonical)]);
  if (account)
    return accountTargets(
      account,
      account.address === canonical ? 'account' : 'account-alias',
      undefined,
      walk,
      visited,
      depth,
    );
  if (group) return expandGroup(group, walk, visited, depth);

  const separator = config.subaddressSeparator;
  const cut = local.indexOf(separator);
  if (cut > 0) {
    const base = local.slice(0, cut);
    const tag = parsed.localPart.slice(cut + 1);
    const baseAlias = config.aliases.find((a) => a.source.toLowerCase() === base);
    if (baseAlias) {
      const expanded = await expand(baseAlias.destinations, 'subaddress', walk, visited, depth);
      return expanded;
    }
    const baseAccount = await lookups.accountFor(`${base}@${parsed.domain}`);
    if (baseAccount) return accountTargets(baseAccount, 'subaddress', tag, walk, visited, depth);
  }

  if (config.catchAll) return expand([config.catchAll], 'catch-all', walk, visited, depth);
  return reject(canonical, 550, '5.1.1', 'No such user here', 'unknown-user');
}

/** Alias destinations: local ones resolved again (loops caught), anything else forwarded. */
async function expand(
  destinations: string[],
  rule: string,
  walk: Walk,
  visited: Set<string>,
  depth: number,
): Promise<Resolved> {
  const { lookups } = walk;
  const targets: RouteTarget[] = [];
  let firstRefusal: Reject | undefined;
  for (const destination of destinations) {
    let parsed: ParsedAddress;
    try {
      parsed = parseAddress(destination);
    } catch (error) {
      firstRefusal ??= syntaxReject(destination, error);
      continue;
    }
    const config = lookups.domain(parsed.domain);
    if (
      config &&
      (config.exchanger === 'local' ||
        (config.exchanger === 'auto' && lookups.autoExchanger?.(parsed.domain)?.effective === 'local'))
    ) {
      const resolved = await resolveLocal(parsed, config, walk, new Set(visited), depth + 1);
      if ('code' in resolved) firstRefusal ??= resolved;
      else targets.push(...resolved.targets);
      continue;
    }
    targets.push({
      kind: 'remote',
      address: parsed.canonical,
      domain: parsed.domain,
      relayHosts: config && config.exchanger === 'remote' ? hosts(config) : [],
      forwarded: true,
    });
  }
  // One copy per destination address, however many alias paths lead there.
  const unique = targets.filter(
    (t, i) => targets.findIndex((u) => u.kind === t.kind && u.address === t.address) === i,
  );
  if (unique.length === 0) return firstRefusal ?? reject('', 550, '5.1.1', 'No such user here', rule);
  return { targets: unique, rule };
}
