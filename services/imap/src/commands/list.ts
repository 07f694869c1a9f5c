import { MAILBOX_SEPARATOR, type MailboxInfo } from '@hermod/mail-store';
import { classifyName, sharedName } from '../acl/shared-namespace.js';
import { astring } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { decodeMailboxName, encodeMailboxName } from '../protocol/utf7.js';
import type { CommandContext } from '../session/command-context.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';
import { parseStatusItems, statusItems } from './status.js';

export const SEPARATOR = MAILBOX_SEPARATOR;

/** IMAP list pattern to a RegExp: '*' matches anything, '%' anything but the separator. */
export function patternToRegExp(pattern: string): RegExp {
  // INBOX is case-insensitive, also as the start of a pattern; stored names use 'INBOX'.
  const normalized = /^inbox(\/|$)/i.test(pattern) ? `INBOX${pattern.slice(5)}` : pattern;
  const escaped = normalized
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/%/g, '[^/]*');
  return new RegExp(`^${escaped}$`);
}

interface ListOptions {
  reference: string;
  patterns: string[];
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  returnSpecialUse: boolean;
  status: string[] | undefined;
  lsub: boolean;
}

export function encodeName(session: CommandContext, name: string): string {
  return astring(session.utf8 ? name : encodeMailboxName(name));
}

/** `Shared` and `Shared/owner`: levels of the shared namespace, never mailboxes. */
function isSharedLevel(name: string): boolean {
  return classifyName(name).kind === 'shared-level';
}

/** A name and the names of its ancestors ('a/b/c' -> a, a/b, a/b/c). */
function withParents(name: string): string[] {
  const parts = name.split(SEPARATOR);
  return parts.map((_, i) => parts.slice(0, i + 1).join(SEPARATOR));
}

async function runList(session: CommandContext, options: ListOptions) {
  const user = session.user!;
  const verb = options.lsub ? 'LSUB' : 'LIST';
  if (options.patterns.length === 1 && options.patterns[0] === '') {
    session.untagged(`${verb} (\\Noselect) "${SEPARATOR}" ""`);
    return ok(`${verb} completed`);
  }
  const { own, subscriptions, shared } = await session.backend.listMailboxView(user.id);
  // Other accounts' mailboxes the user may see (l) in the shared namespace, read (r) for STATUS.
  const readable = new Set<string>(own.map((m) => m.name));
  const visible = shared
    .filter((m) => m.rights.includes('l'))
    .map(({ ownerAddress, ownerId: _owner, rights, ...box }) => {
      const name = sharedName(ownerAddress, box.name);
      if (rights.includes('r')) readable.add(name);
      // Another account's special-use folders are not this user's (RFC 6154).
      return { ...box, name, specialUse: null };
    });
  const mailboxes: MailboxInfo[] = [...own, ...visible];
  const byName = new Map<string, MailboxInfo>(mailboxes.map((m) => [m.name, m]));
  const subscribed = new Set(subscriptions);
  // The hierarchy: mailboxes and the parents that only exist as a prefix of one (\NonExistent).
  const tree = new Set(mailboxes.flatMap((m) => withParents(m.name)));
  // Names with something below them, found once (asking per name would be quadratic in mailboxes).
  const parents = new Set<string>();
  for (const name of tree) {
    const cut = name.lastIndexOf(SEPARATOR);
    if (cut >= 0) parents.add(name.slice(0, cut));
  }
  // Subscription selections also see subscribed names without a mailbox, and their parents.
  const bySubscription = options.subscribedOnly || options.lsub;
  const names = new Set(tree);
  if (bySubscription) for (const name of subscriptions) for (const n of withParents(name)) names.add(n);
  const matchers = options.patterns.map((p) => patternToRegExp(options.reference + p));
  const matched = (name: string) => matchers.some((m) => m.test(name));
  const below = (list: Iterable<string>, name: string) =>
    [...list].filter((n) => n.startsWith(name + SEPARATOR));
  for (const name of [...names].sort()) {
    if (!matched(name)) continue;
    const box = byName.get(name);
    let childInfo = false;
    if (options.lsub) {
      if (!subscribed.has(name)) {
        // RFC 3501 6.3.9: a parent of subscribed names the pattern does not reach is \Noselect.
        if (below(subscriptions, name).some((n) => !matched(n)))
          session.untagged(`LSUB (\\Noselect) "${SEPARATOR}" ${encodeName(session, name)}`);
        continue;
      }
    } else if (options.subscribedOnly) {
      // RECURSIVEMATCH (RFC 5258 3.5): names with subscribed descendants carry CHILDINFO, and a
      // parent that is not subscribed itself is listed for their sake - only for descendants the
      // patterns do not list themselves (those are shown, CHILDINFO would tell nothing new).
      childInfo = options.recursiveMatch && below(subscriptions, name).some((n) => !matched(n));
      if (!subscribed.has(name) && !childInfo) continue;
    }
    if (options.specialUseOnly && !box?.specialUse) continue;
    const attributes: string[] = [];
    if (!box) attributes.push(options.lsub || isSharedLevel(name) ? '\\Noselect' : '\\NonExistent');
    if (!options.lsub) attributes.push(parents.has(name) ? '\\HasChildren' : '\\HasNoChildren');
    if (subscribed.has(name) && options.returnSubscribed && !options.lsub) attributes.push('\\Subscribed');
    if (box?.specialUse && !options.lsub) attributes.push(box.specialUse);
    const extended = childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    session.untagged(
      `${verb} (${attributes.join(' ')}) "${SEPARATOR}" ${encodeName(session, name)}${extended}`,
    );
    if (options.status && box && readable.has(name)) {
      const status = await session.backend.mailboxStatus(box.id);
      session.untagged(
        `STATUS ${encodeName(session, name)} (${statusItems(options.status, status, box.id).join(' ')})`,
      );
    }
  }
  return ok(`${verb} completed`);
}

/** LIST, with the LIST-EXTENDED selection/return options clients commonly send (RFC 5258, 5819, 6154). */
export const listCommand = defineCommand({
  name: 'LIST',
  states: authenticated,
  parse(args, session) {
    const options: ListOptions = {
      reference: '',
      patterns: [],
      subscribedOnly: false,
      specialUseOnly: false,
      recursiveMatch: false,
      returnSubscribed: false,
      returnSpecialUse: false,
      status: undefined,
      lsub: false,
    };
    const selection = args.optionalList();
    for (const item of selection?.items ?? []) {
      if (item.type !== 'atom') throw new BadArgumentsError('Invalid selection option');
      const option = item.value.toUpperCase();
      if (option === 'SUBSCRIBED') {
        options.subscribedOnly = true;
        options.returnSubscribed = true;
      } else if (option === 'SPECIAL-USE') {
        options.specialUseOnly = true;
        options.returnSpecialUse = true;
      } else if (option === 'RECURSIVEMATCH') options.recursiveMatch = true;
      else if (option !== 'REMOTE') throw new BadArgumentsError(`Unknown selection option ${option}`);
    }
    // RECURSIVEMATCH only means something together with a filtering option (RFC 5258 3.1).
    if (options.recursiveMatch && !options.subscribedOnly && !options.specialUseOnly)
      throw new BadArgumentsError('RECURSIVEMATCH needs another selection option');
    options.reference = args.astring('reference');
    const patternList = args.optionalList();
    if (patternList) {
      for (const p of patternList.items) {
        if (p.type === 'list') throw new BadArgumentsError('Invalid pattern');
        options.patterns.push(p.type === 'atom' ? p.value : Buffer.concat(p.chunks).toString('utf8'));
      }
    } else {
      options.patterns.push(args.astring('pattern'));
    }
    if (!session.utf8) options.patterns = options.patterns.map((p) => decodeMailboxName(p));
    if (args.remaining > 0) {
      if (args.atom('RETURN').toUpperCase() !== 'RETURN') throw new BadArgumentsError('Expected RETURN');
      const returns = args.list('return options').items;
      for (let i = 0; i < returns.length; i++) {
        const item = returns[i]!;
        if (item.type !== 'atom') throw new BadArgumentsError('Invalid return option');
        const option = item.value.toUpperCase();
        if (option === 'SUBSCRIBED') options.returnSubscribed = true;
        else if (option === 'SPECIAL-USE') options.returnSpecialUse = true;
        else if (option === 'CHILDREN') continue;
        else if (option === 'STATUS') {
          const list = returns[++i];
          if (list?.type !== 'list') throw new BadArgumentsError('STATUS needs a list');
          options.status = parseStatusItems(list.items);
        } else throw new BadArgumentsError(`Unknown return option ${option}`);
      }
    }
    args.end();
    return options;
  },
  run: (session, options) => runList(session, options),
});

export const lsubCommand = defineCommand({
  name: 'LSUB',
  states: authenticated,
  parse(args) {
    const reference = args.astring('reference');
    const pattern = args.astring('pattern');
    args.end();
    return { reference, pattern };
  },
  run: (session, { reference, pattern }) =>
    runList(session, {
      reference,
      patterns: [pattern],
      subscribedOnly: true,
      specialUseOnly: false,
      recursiveMatch: false,
      returnSubscribed: false,
      returnSpecialUse: false,
      status: undefined,
      lsub: true,
    }),
});
