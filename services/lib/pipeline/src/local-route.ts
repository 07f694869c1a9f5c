/** A recipient bound for exactly one local mailbox, as routing decided it. */
export interface LocalRoute {
  accountId: number;
  /** Mailbox by name or special use. */
  mailbox: string;
  /** The rule that matched (account, account-alias, domain-alias, subaddress, catch-all). */
  rule: string;
  /** The sub-address tag, kept for filters. */
  tag?: string;
}

/** A local recipient's spool destination: what mda delivers to and `hermod queue` shows. */
export interface LocalDestination extends LocalRoute {
  kind: 'local';
}

/**
 * Where a local recipient's copy goes: the mailbox the rule chose, or the folder a policy rule named
 * (mda falls back to INBOX when the account has no such mailbox). Routing and the receivers that
 * route at accept time both decide through here, so the two paths cannot disagree. Spam and DMARC
 * quarantine are not placed here: mda's Sieve filters file them (the default global after-script,
 * docs/sieve.md), so a domain can change or disable that.
 */
export function localDestination(route: LocalRoute, folder?: string): LocalDestination {
  return {
    kind: 'local',
    accountId: route.accountId,
    mailbox: folder ?? route.mailbox,
    rule: route.rule,
    ...(route.tag ? { tag: route.tag } : {}),
  };
}

/**
 * A message is routed at accept time only when every recipient already has its local destination;
 * otherwise routing decides all of them (aliases that fan out, forwards, remote and backup domains).
 */
export function routedAtAccept(recipients: ReadonlyArray<{ local?: LocalDestination }>): boolean {
  return recipients.length > 0 && recipients.every((r) => r.local !== undefined);
}
