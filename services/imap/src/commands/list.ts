import type { MailboxInfo } from '@hermod/mail-store';
import { astring } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { decodeMailboxName, encodeMailboxName } from '../protocol/utf7.js';
import type { ImapSession } from '../session/session.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';
import { parseStatusItems, statusItems } from './status.js';

export const SEPARATOR = '/';

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

export function encodeName(session: ImapSession, name: string): string {
  return astring(session.utf8 ? name : encodeMailboxName(name));
}

async function runList(session: ImapSession, options: ListOptions) {
  const user = session.user!;
  if (options.patterns.length === 1 && options.patterns[0] === '') {
    session.untagged(`${options.lsub ? 'LSUB' : 'LIST'} (\\Noselect) "${SEPARATOR}" ""`);
    return ok(`${options.lsub ? 'LSUB' : 'LIST'} completed`);
  }
  const mailboxes = await session.backend.listMailboxes(user.id);
  const byName = new Map<string, MailboxInfo>(mailboxes.map((m) => [m.name, m]));
  // Parents that only exist as a prefix of a child are listed as \NonExistent / \Noselect.
  const names = new Set(byName.keys());
  for (const m of mailboxes) {
    const parts = m.name.split(SEPARATOR);
    for (let i = 1; i < parts.length; i++) names.add(parts.slice(0, i).join(SEPARATOR));
  }
  const matchers = options.patterns.map((p) => patternToRegExp(options.reference + p));
  const all = [...names].sort();
  const children = (name: string) => all.filter((n) => n.startsWith(name + SEPARATOR));
  const verb = options.lsub ? 'LSUB' : 'LIST';
  for (const name of all) {
    if (!matchers.some((m) => m.test(name))) continue;
    const box = byName.get(name);
    let childInfo = false;
    if (options.subscribedOnly || options.lsub) {
      if (!box?.subscribed) {
        // RECURSIVEMATCH: a parent whose descendant is subscribed is listed with CHILDINFO.
        const hasSubscribedChild = children(name).some((c) => byName.get(c)?.subscribed);
        if (options.recursiveMatch && hasSubscribedChild) childInfo = true;
        else if (options.lsub && hasSubscribedChild) {
          session.untagged(`LSUB (\\Noselect) "${SEPARATOR}" ${encodeName(session, name)}`);
          continue;
        } else continue;
      }
    }
    if (options.specialUseOnly && !box?.specialUse) continue;
    const attributes: string[] = [];
    if (!box) attributes.push(options.lsub ? '\\Noselect' : '\\NonExistent');
    if (!options.lsub) attributes.push(children(name).length > 0 ? '\\HasChildren' : '\\HasNoChildren');
    if (box?.subscribed && options.returnSubscribed && !options.lsub) attributes.push('\\Subscribed');
    if (box?.specialUse && !options.lsub) attributes.push(box.specialUse);
    const extended = childInfo ? ' ("CHILDINFO" ("SUBSCRIBED"))' : '';
    session.untagged(
      `${verb} (${attributes.join(' ')}) "${SEPARATOR}" ${encodeName(session, name)}${extended}`,
    );
    if (options.status && box) {
      const status = await session.backend.mailboxStatus(box.id);
      session.untagged(
        `STATUS ${encodeName(session, name)} (${statusItems(options.status, status).join(' ')})`,
      );
    }
  }
  return ok(`${options.lsub ? 'LSUB' : 'LIST'} completed`);
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
